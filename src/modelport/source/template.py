"""Files of a new Python algorithm, as created by the Algorithmia Python 3 template.

Kept as strings rather than package data: the template's `.py` files carry placeholders, and as real
files they would be linted, byte-compiled on install and possibly collected by pytest.
"""

from __future__ import annotations

import json
import re

_ALGONAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_REQUIREMENTS = """\
# One requirement per line, as for `pip install -r`, for example:
# numpy==1.26.4
# Only the Algorithmia client is needed to read hosted data: algorithmia>=1.0.0,<2.0
"""

_ALGORITHM = """\
# Calls begin at apply(input): `input` is the request body (text, JSON-decoded value or bytes).
# Code at module level runs once when the algorithm is loaded: load models there.


def apply(input):
    return "hello {}".format(input)
"""

_TEST = """\
from . import {algoname}


def test_{algoname}():
    assert {algoname}.apply("Jane") == "hello Jane"
"""


def template_files(username: str, algoname: str) -> dict[str, str]:
    """Return {path: text} for the initial commit of a new Python algorithm (reference 5.1).

    Raises ValueError if algoname is not a valid algorithm name (letters, digits and underscores,
    starting with a letter), since it becomes a Python module name.
    """
    if not _ALGONAME.match(algoname):
        raise ValueError(
            f"invalid algorithm name {algoname!r}: "
            "use letters, digits and underscores, starting with a letter"
        )
    conf = {"username": username, "algoname": algoname, "language": "python3"}
    cases = [
        {
            "case_name": "hello world",
            "input": "world",
            "expected_output": "hello world",
            "type": "EXACT_MATCH",
        }
    ]
    return {
        "algorithmia.conf": json.dumps(conf, indent=4) + "\n",
        "requirements.txt": _REQUIREMENTS,
        "src/__init__.py": "",
        f"src/{algoname}.py": _ALGORITHM,
        f"src/{algoname}_test.py": _TEST.format(algoname=algoname),
        "TEST_CASES.json": json.dumps(cases, indent=4) + "\n",
    }
