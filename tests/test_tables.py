"""The figures table is laid out in one place (ser_img.store.card.figures_table), for the terminal
(`ser-img train`, the demo) and for the model card, with the same columns in the same order."""

from pipelines.tables import metrics_table
from ser_img.store.card import figures_table

FIGURES = {"accuracy": 0.5, "uar": 0.25, "macro_f1": 0.125, "log_loss": 1.5, "brier": 0.75, "ece": 0.0625, "n": 7}
SCORES = {"overall": {"cnn": FIGURES, "stack": FIGURES}, "final": "stack",
          "folds": [{"fold": 1, "cnn": FIGURES, "stack": FIGURES}]}


def test_the_terminal_and_the_card_show_the_same_figures():
    assert figures_table(SCORES, ["cnn", "stack"]) == [
        "model     accuracy     UAR  macro-F1  log-loss   Brier     ECE",
        "cnn          0.500   0.250     0.125     1.500   0.750   0.062",
        "stack *      0.500   0.250     0.125     1.500   0.750   0.062"]
    assert figures_table(SCORES, ["cnn", "stack"], markdown=True) == [
        "| member | accuracy | UAR | macro-F1 | log-loss | Brier | ECE |", "|---|---|---|---|---|---|---|",
        "| cnn | 0.500 | 0.250 | 0.125 | 1.500 | 0.750 | 0.062 |",
        "| stack (the model's output) | 0.500 | 0.250 | 0.125 | 1.500 | 0.750 | 0.062 |"]


def test_the_training_table_starts_with_the_figures_then_the_folds():
    lines = metrics_table(SCORES).splitlines()
    assert lines[1:4] == figures_table(SCORES, ["cnn", "stack"])
    assert lines[-1] == "1         7  0.50/0.25/0.12   0.50/0.25/0.12"
