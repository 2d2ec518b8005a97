"""``--plot`` pictures and Jupyter's HTML/LaTeX views of Result, CheckResult and GraphResult."""

from __future__ import annotations

import re
import shutil
import struct
import sys
from pathlib import Path

import pytest
from conftest import assert_usage_error

from jacli import api, plot

pytest.importorskip("matplotlib", reason="the plot extra: pip install 'jacli[plot]'")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, data[:8]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_texts(path: Path) -> list[str]:
    """The text elements of an SVG (jacli writes text as text, not as glyph paths)."""
    svg = path.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)]


def pixels(path: Path):
    from matplotlib.image import imread

    return imread(path)


# -- the CLI ---------------------------------------------------------------------------------------


def test_jacobian_heatmap_png_keeps_the_output(jacli, tmp_path: Path) -> None:
    picture = tmp_path / "j.png"
    plain = jacli("jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2", "--format", "json")
    drawn = jacli("jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2", "--format", "json", "--plot", str(picture))
    assert drawn.exit_code == 0, drawn
    assert drawn.stdout == plain.stdout and drawn.stderr == ""
    width, height = png_size(picture)
    assert width >= 500 and height >= 400
    image = pixels(picture)
    red = (image[..., 0] > 0.35) & (image[..., 0] < 0.5) & (image[..., 1] < 0.05) & (image[..., 2] < 0.15)
    assert red.sum() > 1000  # the largest entry, 24, in the colour map's darkest red


def test_svg_labels_axes_values_and_colour_bar(jacli, tmp_path: Path) -> None:
    picture = tmp_path / "j.svg"
    assert jacli("jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3", "--plot", str(picture)).exit_code == 0
    texts = svg_texts(picture)
    for label in ("x0", "x1", "f0", "f1", "f2", "J", "4", "3", "2", "6"):
        assert label in texts, (label, texts)
    assert any(t.startswith("Jacobian") and "x0**2, x0*x1, x1**2" in t for t in texts)
    assert "−6" in texts or "-6" in texts  # the colour bar, symmetric about 0 (±max |entry|)


def test_scalar_function_of_two_inputs_adds_the_contour_and_gradient(jacli, tmp_path: Path) -> None:
    picture = tmp_path / "g.svg"
    assert jacli("gradient", "x**2 + 3*y**2 - x*y", "--at", "1,2", "--plot", str(picture)).exit_code == 0
    texts = svg_texts(picture)
    assert "f near the point; arrow: ∇ = (0, 11)" in texts
    assert "x" in texts and "y" in texts


def test_contour_surface_is_f_on_a_grid_around_the_point() -> None:
    result = api.hessian("x*y + log(y)", at="1,2")
    grid_x, grid_y, values, gradient = plot.contour_surface(result)
    centre = plot.GRID // 2
    assert (grid_x[centre, centre], grid_y[centre, centre]) == (1.0, 2.0)
    assert grid_x.min() == 0.0 and grid_x.max() == 2.0 and grid_y.min() == 1.0 and grid_y.max() == 3.0
    import numpy as np

    assert np.allclose(values, grid_x * grid_y + np.log(grid_y), rtol=1e-14)
    assert gradient == pytest.approx((2.0, 1.5), rel=1e-14)


def test_contour_masks_points_outside_the_domain(tmp_path: Path) -> None:
    result = api.gradient("log(x) + y", at="0.5, 0")
    _, _, values, _ = plot.contour_surface(result)
    import numpy as np

    assert np.isnan(values).any() and np.isfinite(values).any()
    plot.save(result, str(tmp_path / "log.png"), plot.contour_surface(result))
    assert png_size(tmp_path / "log.png")[0] > 500


def test_no_contour_unless_f_maps_two_inputs_to_one_number() -> None:
    assert plot.contour_surface(api.jacobian("x*y, x+y", at="1,2")) is None
    assert plot.contour_surface(api.gradient("x*y*z", at="1,2,3")) is None


def test_vector_hessian_one_heatmap_per_output_on_one_scale(jacli, tmp_path: Path) -> None:
    picture = tmp_path / "h.svg"
    assert jacli("hessian", "x*x*[0,1,2,3]", "--at", "x=[1,1,1,1]", "--plot", str(picture)).exit_code == 0
    texts = svg_texts(picture)
    assert [t for t in texts if t.startswith("H[")] == ["H[f0]", "H[f1]", "H[f2]", "H[f3]"]
    assert texts.count("x[3]") == 8  # rows and columns of four panels


def test_big_results_show_their_sparsity_pattern(jacli, tmp_path: Path) -> None:
    picture = tmp_path / "rosen.svg"
    n = 60
    expr = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"
    at = "x=[" + ",".join(["1.1"] * n) + "]"
    done = jacli("hessian", expr, "--at", at, "--no-symbolic", "--format", "json", "--plot", str(picture))
    assert done.exit_code == 0, done
    assert "H: sparsity, 178 of 3,600 nonzero" in svg_texts(picture)  # tridiagonal: 60 + 2·59


def test_graph_plot_draws_with_graphviz(jacli, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (.ci/run installs it)")
    picture = tmp_path / "graph.svg"
    done = jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1", "--format", "json", "--plot", str(picture))
    assert done.exit_code == 0, done
    texts = svg_texts(picture)
    for line in ("c = a + b", "e = c*d", "adjoint = 5", "∂e/∂c = 2"):
        assert line in texts, (line, texts)
    png = tmp_path / "graph.png"
    assert jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1", "--plot", str(png)).exit_code == 0
    assert png_size(png)[0] > 100


def test_graph_plot_without_graphviz_names_it(jacli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    done = jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1", "--plot", str(tmp_path / "g.png"))
    assert_usage_error(done)
    assert done.stderr == (
        "jacli: error: graph --plot needs Graphviz's dot program on PATH (e.g. apt-get install graphviz); "
        "--format dot prints the graph as text\n"
    )
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gradient", "x**2", "--at", "1", "--plot", "g.pdf"], "--plot writes .png or .svg files, not 'g.pdf'"),
        (["gradient", "x**2", "--at", "1", "--at", "2", "--plot", "g.png"], "--plot draws one point; give one --at"),
        (["gradient", "x**2", "--points", "-", "--plot", "g.png"], "--plot draws one point; give one --at"),
        (["gradient", "x**2", "--plot", "g.png"], "--plot draws the numbers at a point; give --at"),
        (
            ["gradient", "x**2", "--at", "1", "--show-torch", "--plot", "g.png"],
            "--plot draws the result and --show-torch prints a program instead of it; drop one",
        ),
        (
            ["taylor", "sin(x)", "--at", "0", "--plot", "t.png"],
            "--plot draws numbers; taylor gives a polynomial (use --format json)",
        ),
        (["graph", "x*y", "--at", "1,2", "--plot", "g.jpg"], "--plot writes .png or .svg files, not 'g.jpg'"),
    ],
)
def test_plot_refusals(jacli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    done = jacli(*args, input="1\n")
    assert_usage_error(done)
    assert done.stderr == f"jacli: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_picture_is_one_error_line(jacli, tmp_path: Path) -> None:
    done = jacli("gradient", "x**2", "--at", "1", "--plot", str(tmp_path / "missing" / "g.png"))
    assert_usage_error(done)
    assert done.stderr.startswith(f"jacli: error: cannot write {tmp_path / 'missing' / 'g.png'}: ")
    assert done.stderr.count("\n") == 1


def test_missing_matplotlib_names_the_extra(jacli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import matplotlib.figure now fails
    done = jacli("gradient", "x**2", "--at", "1", "--plot", str(tmp_path / "g.png"))
    assert_usage_error(done)
    assert done.stderr == "jacli: error: --plot needs matplotlib: pip install 'jacli[plot]'\n"


def test_api_figure_is_a_matplotlib_figure() -> None:
    from matplotlib.figure import Figure

    fig = plot.figure(api.jacobian("x*y, x+y", at="1,2"))
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the heatmap and its colour bar


# -- Jupyter ---------------------------------------------------------------------------------------


def test_result_html_is_the_terminal_table() -> None:
    page = api.jacobian("2*x0+x1**2, x0**2+2*x1**3", at="1,2")._repr_html_()
    assert page.startswith("<pre style=") and page.endswith("</pre>")
    text = re.sub(r"<[^>]+>", "", page)
    assert "jacobian of  f(x0, x1) = 2*x0+x1**2, x0**2+2*x1**3" in text
    assert "│ f1 │  2 │ 24 │" in text and "value        f = [6, 17]" in text


def test_html_escapes_the_expression() -> None:
    page = api.gradient("where(x < 1, x, 2*x)", at="2")._repr_html_()
    assert "where(x &lt; 1, x, 2*x)" in page and "x < 1" not in page


def test_check_result_html_and_latex() -> None:
    result = api.check("abs(x - 1) + x**2", at="x=1")
    text = re.sub(r"<[^>]+>", "", result._repr_html_())
    assert "Jacobian three ways" in text and "FAIL: not differentiable here (f w.r.t. x)" in text
    latex = result._repr_latex_()
    assert latex.startswith(r"$$\begin{gathered} J_{\mathrm{autodiff}} = \begin{bmatrix} 2 \end{bmatrix}")
    assert r"\text{FAIL: not differentiable here (f w.r.t. x)}" in latex


def test_graph_result_html_and_latex() -> None:
    result = api.graph("(a+b)*(b+1)", at="a=2, b=1")
    text = re.sub(r"<[^>]+>", "", result._repr_html_())
    assert "│ c     │ add   │ a + b      │     3 │                2 │" in text and "│ c → e │ ∂e/∂c   │     2 │" in text
    assert result._repr_latex_() == (
        r"$$\begin{array}{llrr} \text{node} & \text{definition} & v & \bar{v} \\ \hline "
        r"\text{a} & \text{input} & 2 & 2 \\ \text{b} & \text{input} & 1 & 5 \\ "
        r"\text{c} & \text{a + b} & 3 & 2 \\ \text{d} & \text{b + 1} & 2 & 3 \\ "
        r"\text{e} & \text{c*d} & 6 & 1 \\ \end{array}$$"
    )


def test_graph_latex_escapes_tex_specials() -> None:
    result = api.graph("a_b = x**2; a_b + 1", at="x=3")
    assert r"\text{a\_b}" in result._repr_latex_()
