"""`python -m pruning lottery|agp`: the papers' lessons print their tables; bad values exit 2 with one line."""
from __future__ import annotations

import json

import pytest

from pruning import cli


def test_lottery_prints_the_three_lines(capsys):
    assert cli.main(["lottery", "--rounds", "1", "--steps", "3", "--eval-set", "heldout"]) == 0
    out = capsys.readouterr()
    assert "(dense)" in out.out and "winning ticket" in out.out and "random re-init" in out.out
    assert "round 1/1" in out.err                                    # progress moves, on stderr


def test_agp_json_has_the_three_schedules(capsys):
    assert cli.main(["agp", "--model", "mlp", "--steps", "24", "--eval-set", "heldout", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["schedule"] for row in data["rows"]] == ["one-shot + fine-tune", "iterative (Han et al.)",
                                                         "gradual (AGP)"]
    assert len({round(row["sparsity"], 6) for row in data["rows"]}) == 1


@pytest.mark.parametrize("argv", [["lottery", "--rate", "2"], ["agp", "--steps", "100"], ["lottery", "--model", "x"]])
def test_bad_values_exit_2_with_one_line(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
