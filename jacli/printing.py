"""Where :func:`user_text` lived; it is :mod:`jacli.language.printing` now (it reads the function table)."""

from jacli.language.printing import user_text

__all__ = ["user_text"]
