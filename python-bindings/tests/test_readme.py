"""The README's programs run as written: the first (Python functions and
actors), and the one that calls C (with the examples' libraries of the
build under test)."""

import os
import re

import pytest

import _pdc_testing as T
import pdc


def _examples_dir(lib):
    for d in (
        os.environ.get("PDC_EXAMPLES_DIR"),
        os.path.join(os.path.dirname(os.path.dirname(lib)), "examples"),
        os.path.join(T.REPO, "build", "examples"),
    ):
        if d and os.path.exists(os.path.join(d, "libpdc_example_pi.so")):
            return d
    return None


def _programs():
    with open(os.path.join(T.BINDINGS, "README.md")) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_the_first_program_of_the_readme(capsys):
    # Python functions and a Python actor.
    exec(compile(_programs()[0], "README.md", "exec"), {})
    out = capsys.readouterr().out.split("\n")
    assert out[:3] == ["285", "15", "16"]
    assert not pdc.is_initialized()


def test_the_c_program_of_the_readme(lib, capsys):
    examples = _examples_dir(lib)
    if not examples:
        pytest.skip("the examples' libraries are not built")
    program = _programs()[1].replace('"build/examples', '"' + examples)
    exec(compile(program, "README.md", "exec"), {})
    out = capsys.readouterr().out.split("\n")
    assert out[0].startswith("pi ~ 3.1") and out[1:4] == ["11", "11", "16"]
    assert not pdc.is_initialized()
