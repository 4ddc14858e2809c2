"""Figures measured after training go into the model's card and folder, checksummed."""

import json
import shutil

import pytest

from ser_img.errors import UsageError
from ser_img.store.load import load_model
from ser_img.store.measured import conditions_section, loco_section, with_section
from ser_img.store.save import attach_reports

CARD = "# Model card\n\n## Speaker-grouped cross-validation\n\nfigures\n\n## Limits\n\n- a limit\n"


def _row(accuracy, **more):
    return {"accuracy": accuracy, "ece": 0.04, "largest_share": 0.2, "largest_class": "calm", **more}


def test_sections_go_before_the_limits_and_replace_their_earlier_selves():
    results = {"clips": 10, "conditions": {"clean": {"final": "stack", "stack": _row(0.7)},
                                           "pink10": {"final": "stack", "stack": _row(0.65, same_top_as_clean=0.9)}}}
    section = conditions_section(results, "python x.py")
    assert "| pink10 | 65.0% | -5.0 | 0.040 | 90.0% | 20% (calm) |" in section and "`python x.py`" in section
    once = with_section(CARD, section)
    assert once.index("## Under recording conditions") < once.index("## Limits")
    again = with_section(once, conditions_section({**results, "clips": 11}, "python x.py"))
    assert again.count("## Under recording conditions") == 1 and "(11)" in again and "(10)" not in again
    assert again.endswith("## Limits\n\n- a limit\n")
    loco = {"members": "desc,enc", "mean_accuracy": 0.5, "corpora": {"nemo": {
        "clips": 4, "accuracy": 0.5, "uar": 0.5, "ece": 0.1, "largest_share": 0.5, "largest_class": "sad",
        "histogram": {"neutral": 2, "sad": 2}}}}
    both = with_section(again, loco_section(loco, "python y.py"))
    assert "| nemo | 4 | 50.0% | 50.0% | 0.100 | 50% (sad) | neutral 2, sad 2 |" in both
    assert both.index("## Under recording conditions") < both.index("## Leave one corpus out") < both.index("## Limits")


def test_attached_reports_keep_the_model_loadable(stack_model, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(stack_model, model_dir)
    attach_reports(model_dir, {"conditions.json": b"{}", "MODEL_CARD.md": b"# new card\n"})
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert "conditions.json" in manifest["files"] and (model_dir / "MODEL_CARD.md").read_text() == "# new card\n"
    load_model(model_dir)  # every digest checks
    with pytest.raises(UsageError, match="not a report file"):
        attach_reports(model_dir, {"model.json": b"{}"})
