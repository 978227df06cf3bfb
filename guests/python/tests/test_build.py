"""The build command's pure parts: finding the app, staging the generated
modules, the componentize-py command line, the carried WIT."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from _support import REPO_ROOT, SDK_ROOT

from wasmudf_guest import _build


class BuildTest(unittest.TestCase):
    def test_the_wit_is_the_projects(self):
        carried = Path(SDK_ROOT, "wasmudf_guest", "wit", "udf.wit")
        self.assertEqual(_build.WIT_DIR / "udf.wit", carried.resolve())
        project = Path(REPO_ROOT, "wit", "udf.wit")
        if not project.exists():
            self.skipTest("not inside the wasmudf repository")
        self.assertEqual(carried.read_bytes(), project.read_bytes())

    def test_locate_app(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            (d / "my_app.py").write_text("")
            (d / "pkg").mkdir()
            (d / "pkg" / "__init__.py").write_text("")
            (d / "plain").mkdir()
            (d / "bad-name.py").write_text("")
            (d / "guest.py").write_text("")
            (d / "notes.txt").write_text("")
            self.assertEqual(_build.locate_app(d / "my_app.py"), (d.resolve(), "my_app"))
            self.assertEqual(_build.locate_app(d / "pkg"), (d.resolve(), "pkg"))
            for bad, why in [("plain", "package"), ("bad-name.py", "not a valid"),
                             ("guest.py", "used by the build"), ("notes.txt", "expected"),
                             ("missing.py", "no such file")]:
                with self.assertRaisesRegex(_build.BuildError, why):
                    _build.locate_app(d / bad)

    def test_staging(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            _build._stage(d, "my_app")
            app = (d / "_wasmudf_app.py").read_text()
            self.assertIn("importlib.import_module('my_app')", app)
            self.assertIn("Guest, Accumulator, Cursor = _runtime.make_exports(", app)
            self.assertIn("from _wasmudf_app import Accumulator, Cursor",
                          (d / "guest.py").read_text())
            for name in ("__init__.py", "_registry.py", "_runtime.py"):
                self.assertTrue((d / "wasmudf_guest" / name).is_file(), name)
            compile(app, "_wasmudf_app.py", "exec")

    def test_command_line(self):
        cmd = _build.componentize_command("_wasmudf_app", "/o/x.wasm", ["/t", "/u"])
        self.assertEqual(cmd, ["-d", str(_build.WIT_DIR), "-w", "udf", "-q", "componentize",
                               "-p", "/t", "-p", "/u", "-o", "/o/x.wasm", "_wasmudf_app"])
        stub = _build.componentize_command("m", "o", [], stub_wasi=True, quiet=False)
        self.assertIn("--stub-wasi", stub)
        self.assertNotIn("-q", stub)

    def test_failure_output_is_trimmed(self):
        raw = ("Traceback (most recent call last):\n"
               '  File "<string>", line 4, in <module>\n'
               "AssertionError: Traceback (most recent call last):\n"
               '  File "/1/app.py", line 3, in <module>\n'
               "ValueError: bad\n\nCaused by:\n    ValueError: bad\n\n"
               "Stack backtrace:\n   0: anyhow\n")
        self.assertEqual(_build._clean_failure(raw),
                         "Traceback (most recent call last):\n"
                         '  File "/1/app.py", line 3, in <module>\n'
                         "ValueError: bad\n\nCaused by:\n    ValueError: bad")

    def test_cli_reports_errors(self):
        env = dict(os.environ, PYTHONPATH=SDK_ROOT)
        proc = subprocess.run([sys.executable, "-m", "wasmudf_guest", "build", "/nonexistent.py"],
                              capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such file or directory", proc.stderr)
        proc = subprocess.run([sys.executable, "-m", "wasmudf_guest", "wit"],
                              capture_output=True, text=True, env=env)
        self.assertEqual(proc.stdout.strip(), str(_build.WIT_DIR))


if __name__ == "__main__":
    unittest.main()
