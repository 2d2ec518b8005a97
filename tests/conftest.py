"""Shared fixtures: run the CLI in-process with captured stdout, stderr and stdin.

Property tests are deterministic by default (hypothesis profile ``deterministic``:
the same examples on every run and machine, no example database to replay an old
failure, the reproducing blob printed on failure). ``JACLI_HYPOTHESIS=random``
opts into random exploration (fresh examples each run, still no database).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from jacli import cli, limits
from jacli.server import control, protocol

# Hermetic: jacli is warm by default (a first call starts a server), but no test uses or starts one unless
# it asks for it (tests/test_server*.py, each in its own directory). Every subprocess inherits these two;
# the directory is private to this session, and whatever server a stray test starts there is stopped at the end.
os.environ[protocol.ENV_MODE] = "off"
os.environ[protocol.ENV_DIR] = tempfile.mkdtemp(prefix="jacli-tests-", dir="/tmp")  # short: socket paths


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    control.stop(os.environ[protocol.ENV_DIR], timeout=5)
    shutil.rmtree(os.environ[protocol.ENV_DIR], ignore_errors=True)


HYPOTHESIS_ENV = "JACLI_HYPOTHESIS"
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("random", derandomize=False, database=None, print_blob=True, deadline=None)
settings.load_profile(os.environ.get(HYPOTHESIS_ENV, "deterministic"))


@dataclass(frozen=True)
class Outcome:
    """What one ``jacli`` invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., Outcome]


def invoke_cli(*args: str, input: str | bytes | None = None, env: Mapping[str, str | None] | None = None) -> Outcome:
    """Run ``jacli ARGS`` through :func:`jacli.cli.run`, exactly as the console script does."""
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        limits.reset()  # as in a fresh process: the command reads this environment once
        try:
            code = cli.run(list(args))
        finally:
            limits.reset()  # the environment is put back: what comes next reads it afresh
    return Outcome(int(code), out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def jacli() -> Invoke:
    """``jacli("jacobian", "x*y", "--at", "1,2")`` -> :class:`Outcome`."""
    return invoke_cli


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test starts as a fresh process would: :func:`jacli.limits.settings` reads the environment anew."""
    limits.reset()
    yield
    limits.reset()
    # nor a symbolic form an earlier test derived under other limits or budgets (it is reused whatever the budget)
    symbolic_result = sys.modules.get("jacli.symbolic_result")
    if symbolic_result is not None:
        symbolic_result.clear_caches()


def assert_usage_error(outcome: Outcome) -> None:
    """Exit 2, a first stderr line ``jacli: error: …``, no traceback, nothing on stdout."""
    assert outcome.exit_code == 2, outcome
    assert outcome.stderr.startswith("jacli: error: "), outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert outcome.stdout == ""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/* from current output")


# Modules whose every test starts real processes (a warm server, a fresh interpreter): the slow tier.
_SLOW_MODULES = frozenset(
    {
        "test_server.py",
        "test_server_robust.py",
        "test_notebook.py",
        "test_dask_cluster.py",
        # the optional extras' own modules (matplotlib, pyarrow and pandas imports in every worker): round 2,
        # to keep the fast tier under 90 s
        "test_pictures.py",
        "test_data_files.py",
        "test_server_cache.py",  # round 3: a real server's program cache
    }
)


# In-process tests that take half a second or more each (measured), or many seeds of one: the slow tier too.
_SLOW_TESTS = frozenset(
    {
        "test_random_constant_comparisons_are_decided_exactly",
        "test_finite_differences_within_predicted_error",
        "test_exploding_symbolic_hessian_is_skipped_with_a_note",
        "test_exploding_power_tower_hessian_keeps_the_numbers",
        "test_exact_evaluation_stays_bounded",
        "test_batch_equals_per_point",
        "test_generator_detects_and_repairs_a_stale_file",
        "test_guard_trips_quickly",
        "test_configurable_limits_can_be_raised",
        "test_cli_on_deep_expressions",
        "test_cli_on_random_points_and_vectors",
        "test_cli_on_random_wrt",
        "test_cli_on_token_soups",
        "test_large_hessians_equal_the_dense_autograd_hessian",
        "test_array_expressions_match_symbolic",
        "test_logistic_map_at_20_steps_stays_small_and_is_right",
        "test_fuzzed_streams_through_the_reader_raise_only_points_errors",
        "test_endless_rows_are_read_a_bounded_chunk_at_a_time",
        "test_the_largest_header_within_the_limit_works",
        "test_result_tables_show_every_number_at_any_width",
        "test_points_file_fuzz_gives_a_result_or_a_clean_error",
        "test_a_deep_nest_of_any_function_builds_and_lowers_at_once",
        "test_show_torch_program_runs_and_matches",
        "test_derivative_matches_exact_sympy_at_random_points",
        "test_public_functions_raise_only_jacli_errors",
        "test_choice_values_are_offered_wherever_the_option_exists",
        "test_completion_files_are_fresh",
        "test_only_the_entry_points_import_the_cli",
        "test_only_the_entry_point_ends_the_process",
        "test_exact_is_skipped_past_the_budget_and_the_numbers_stay",
        "test_dash_reads_the_expression_from_stdin_in_every_command",
        "test_forced_mode_is_reported",
        "test_graph_tables_show_every_number_at_any_width",
        "test_check_tables_show_every_number_at_any_width",
        "test_path_derivative_is_the_straight_lines",
        "test_the_deepest_nest_the_parser_takes_builds",
        "test_a_big_hessian_keeps_the_json_structure_of_a_small_one",
        "test_programs_are_built_as_sympy_builds_them",
        "test_derivative_is_sympys",
        "test_second_derivative_is_sympys",
        # the costliest cases of a parametrized test (by their full name)
        "test_hostile_input_is_a_clean_usage_error[100000-components]",
        "test_hostile_input_is_a_clean_usage_error[huge-array-literal]",
        "test_hostile_input_is_a_clean_usage_error[huge-at-array]",
        "test_hostile_input_is_a_clean_usage_error[broadcast-blowup]",
        "test_hostile_input_is_a_clean_usage_error[matmul-blowup]",
        "test_hostile_input_is_a_clean_usage_error[hessian-too-big]",
        "test_plain_files_read_as_the_exact_path_reads_them",
        "test_big_runs_write_the_bytes_of_the_exact_path",
        "test_big_output_files_are_the_bytes_of_the_exact_path",
        "test_sigkilled_run_leaves_a_part_file_the_next_run_removes",
        "test_a_sum_of_100000_terms_compiles_and_evaluates",  # issue 16 (tests/test_fused.py)
        "test_a_chain_of_2000_powers_compiles_and_differentiates",
        "test_the_rosenbrock_hessian_is_byte_identical_fused",
        "test_result_text_is_json_dumps",
        # moved to the slow tier in round 2 to keep the fast tier under 90 s (each measured at 0.7 s or more)
        "test_big_or_irrational_constant_matrices_stay_nodes",
        "test_a_long_sum_builds",
        "test_identity_with_named_dimensions[hvp-x.T@A@x-x]",
        "test_same_symbolic_form_as_at_a_point[jvp-2*x0+x1**2, x0**2+2*x1**3-1,2-extra4]",
        "test_vector_hessian_one_heatmap_per_output_on_one_scale",
        'test_readme_block[jacli hessian "x*y + log(y)" --at 1,2 --format json --plot]',
        "test_check_agrees_three_ways",
        "test_add_is_sympys",
        "test_recorded_finiteness_is_sympys",
        "test_mul_is_sympys",
        "test_seed_cell_at_many_points",
        "test_point_dependent_loop_counts",
        "test_random_programs_group_as_one_at_a_time",
        "test_odd_files_read_and_fail_as_the_exact_path",
        "test_random_digit_strings_round_as_numpy_does",
        "test_jacobian_heatmap_png_keeps_the_output",
        "test_scalar_function_of_two_inputs_adds_the_contour_and_gradient",
        "test_a_reduction_along_an_axis_is_torchs[softmax(A, {k})]",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`_SLOW_MODULES` and :data:`_SLOW_TESTS` ``slow``: ``-m "not slow"`` is the fast tier."""
    for item in items:
        name = getattr(item, "originalname", item.name)
        if item.path.name in _SLOW_MODULES or name in _SLOW_TESTS or item.name in _SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def read_pty(controller: int) -> bytes:
    """Everything written to a pseudo-terminal until every writer has closed it; closes ``controller``."""
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every writer closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return b"".join(chunks)


def sympy_or_first(make: Callable[..., Any]) -> Callable[[tuple[Any, ...]], Any]:
    """``make(*parts)``, or the first part where SymPy itself fails on them (``zoo`` arithmetic): for strategies."""

    def build(parts: tuple[Any, ...]) -> Any:
        try:
            return make(*parts)
        except (ZeroDivisionError, TypeError, ValueError):
            return parts[0]

    return build
