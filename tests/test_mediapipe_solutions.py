"""MediaPipe's two solutions load without the package's __init__, and the plain import still works as fallback."""

from __future__ import annotations

import subprocess
import sys

# Builds both graphs and runs them on a portrait; prints what the process imported.
RUN_BOTH = """
import sys
import numpy as np
from PIL import Image
from deepflash_core.mediapipe_solutions import solution

rgb = np.asarray(Image.open({path!r}).convert("RGB"))
segmentation = solution("selfie_segmentation").SelfieSegmentation(model_selection=0)
mask = segmentation.process(rgb).segmentation_mask
mesh = solution("face_mesh").FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
found = mesh.process(rgb).multi_face_landmarks
print(round(float(mask.mean()), 2) > 0.2, len(found[0].landmark))
print(sorted(m for m in ("matplotlib", "mediapipe.tasks", "mediapipe.python.solutions.hands") if m in sys.modules))
"""


def run(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_both_solutions_load_and_run_without_the_rest_of_mediapipe(portrait_path) -> None:
    assert run(RUN_BOTH.format(path=str(portrait_path))) == ["True 478", "[]"]


def test_a_failing_bare_import_falls_back_to_the_whole_package(portrait_path) -> None:
    # A module the bare import needs cannot be imported: everything is imported again the plain way.
    broken = "import sys; sys.modules['mediapipe.python.solution_base'] = None\n"
    lines = run(broken + RUN_BOTH.format(path=str(portrait_path)))
    assert lines[0] == "True 478"
    assert "mediapipe.tasks" in lines[1], "the full package was imported"


def test_an_already_imported_mediapipe_is_used_as_it_is() -> None:
    code = ("import mediapipe\n"
            "from deepflash_core.mediapipe_solutions import solution\n"
            "print(solution('face_mesh') is mediapipe.solutions.face_mesh)\n")
    assert run(code) == ["True"]
