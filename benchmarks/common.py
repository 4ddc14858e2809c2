"""What the benchmarks share: the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(memory_gib, 1),
            "python": platform.python_version()}


def describe_model(model_dir: Path) -> str:
    """One line on the model a benchmark ran: head, fold CNNs, image size, window, clips."""
    info = json.loads((Path(model_dir) / "model.json").read_text())
    render = info["render_settings"]
    return (f"`{Path(model_dir).name}`: head {info['head']}, {info['n_folds']} folds x {info.get('cnns_per_fold', 1)} CNNs, "
            f"{render['height']}x{render['width']} images, {render['window_s']:g}-s window, "
            f"trained on {info.get('n_clips', '?')} clips")


def save_results(name: str, results: dict, markdown: str) -> None:
    """results/NAME.json and results/NAME.md, then the table on stdout."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)
