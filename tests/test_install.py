"""``deepflash install gimp|krita``: where files go, what the record holds, and that --uninstall undoes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import deepflash_client
from deepflash_app.cli import cli
from deepflash_app.commands import install as installer

GIMP_ENTRY = ("deepflash", "deepflash.py")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh HOME (the editors' folders derive from it) without XDG overrides."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(*args: str):
    result = CliRunner().invoke(cli, ["install", *args], catch_exceptions=False)
    return result


def test_gimp_install_puts_an_executable_plug_in_in_a_folder_of_its_name(home):
    result = invoke("gimp", "--address", "tcp://127.0.0.1:6000")
    assert result.exit_code == 0, result.output
    plugin = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "deepflash"
    assert str(plugin) in result.output and "Filters → Enhance" in result.output
    entry = plugin / "deepflash.py"
    assert entry.is_file() and os.access(entry, os.X_OK)
    assert (plugin / "gimp_filter.py").is_file()
    kit = sorted(path.name for path in Path(deepflash_client.__file__).parent.glob("*.py"))
    assert sorted(path.name for path in (plugin / "vendor" / "deepflash_client").glob("*.py")) == kit
    assert sorted(path.name for path in (plugin / "vendor").iterdir()) == ["deepflash_client", "deepflash_editor"]
    assert (plugin / "vendor" / "deepflash_editor" / "job.py").is_file()
    record = json.loads((plugin / installer.RECORD_NAME).read_text())
    assert record["address"] == "tcp://127.0.0.1:6000" and record["python"] == sys.executable
    assert record["serve_command"][-1] == "serve"


def test_the_serve_command_runs_the_module_when_no_deepflash_script_is_beside_python(tmp_path):
    python = str(tmp_path / "bin" / "python3")
    assert installer.serve_command(python) == [python, "-m", "deepflash_app", "serve"]


def test_gimp_uninstall_removes_exactly_the_plug_in(home):
    plugins = home / ".config" / "GIMP" / "3.0" / "plug-ins"
    (plugins / "other").mkdir(parents=True)
    invoke("gimp")
    result = invoke("gimp", "--uninstall")
    assert result.exit_code == 0 and "Removed" in result.output
    assert not (plugins / "deepflash").exists() and (plugins / "other").is_dir()
    assert "Nothing to remove" in invoke("gimp", "--uninstall").output


def test_reinstall_replaces_but_a_foreign_folder_is_never_touched(home, tmp_path):
    target = tmp_path / "plug-ins"
    invoke("gimp", "--target", str(target))
    (target / "deepflash" / "stale.py").write_text("old")
    invoke("gimp", "--target", str(target))
    assert not (target / "deepflash" / "stale.py").exists()
    foreign = tmp_path / "elsewhere"
    (foreign / "deepflash").mkdir(parents=True)
    (foreign / "deepflash" / "mine.txt").write_text("user data")
    result = CliRunner().invoke(cli, ["install", "gimp", "--target", str(foreign)])
    assert result.exit_code != 0 and isinstance(result.exception, installer.InstallError)
    result = CliRunner().invoke(cli, ["install", "gimp", "--target", str(foreign), "--uninstall"])
    assert isinstance(result.exception, installer.InstallError)
    assert (foreign / "deepflash" / "mine.txt").read_text() == "user data"


def test_krita_install_enables_the_plug_in_and_uninstall_reverts_kritarc(home):
    kritarc = home / ".config" / "kritarc"
    kritarc.parent.mkdir(parents=True)
    kritarc.write_text("[General]\nfoo=1\n\n[python]\nenable_other=true\n")
    result = invoke("krita")
    assert result.exit_code == 0, result.output
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    assert (pykrita / "deepflash.desktop").is_file() and (pykrita / "deepflash" / "__init__.py").is_file()
    assert (pykrita / "deepflash" / "vendor" / "deepflash_client" / "zmq_client.py").is_file()
    text = kritarc.read_text()
    assert "[python]\nenable_deepflash=true\nenable_other=true" in text and "foo=1" in text
    invoke("krita")  # idempotent
    assert kritarc.read_text().count("enable_deepflash") == 1
    result = invoke("krita", "--uninstall")
    assert result.exit_code == 0
    assert not (pykrita / "deepflash").exists() and not (pykrita / "deepflash.desktop").exists()
    assert kritarc.read_text() == "[General]\nfoo=1\n\n[python]\nenable_other=true\n"


def test_kritarc_without_python_section_gets_one(tmp_path):
    kritarc = tmp_path / "kritarc"
    assert installer.set_krita_enabled(kritarc, True)
    assert kritarc.read_text() == "[python]\nenable_deepflash=true\n"
    assert not installer.set_krita_enabled(kritarc, True)


def test_krita_zip_has_the_desktop_file_and_package_at_its_root(tmp_path):
    output = tmp_path / "deepflash-krita.zip"
    result = invoke("krita", "--zip", str(output))
    assert result.exit_code == 0 and "Import Python Plugin from File" in result.output
    names = zipfile.ZipFile(output).namelist()
    assert "deepflash.desktop" in names and "deepflash/__init__.py" in names
    assert "deepflash/vendor/deepflash_client/zmq_client.py" in names and "deepflash/docker.py" in names
    assert {name.split("/")[0] for name in names} == {"deepflash.desktop", "deepflash"}
    assert not any("__pycache__" in name for name in names)


def test_bad_address_is_refused_in_one_line(home):
    result = CliRunner().invoke(cli, ["install", "gimp", "--address", "localhost:5557"])
    assert result.exit_code != 0 and "not a ZeroMQ address" in str(result.exception)


@pytest.mark.parametrize("platform, environ, gimp, pykrita, kritarc", [
    ("linux", {"HOME": "/h"}, "/h/.config/GIMP/3.0/plug-ins", "/h/.local/share/krita/pykrita", "/h/.config/kritarc"),
    ("linux", {"HOME": "/h", "XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d"}, "/c/GIMP/3.0/plug-ins",
     "/d/krita/pykrita", "/c/kritarc"),
    ("darwin", {"HOME": "/h"}, "/h/Library/Application Support/GIMP/3.0/plug-ins",
     "/h/Library/Application Support/krita/pykrita", "/h/Library/Preferences/kritarc"),
    ("win32", {"USERPROFILE": "/u", "APPDATA": "/a", "LOCALAPPDATA": "/l"}, "/a/GIMP/3.0/plug-ins",
     "/a/krita/pykrita", "/l/kritarc"),
])
def test_editor_folders_per_os(platform, environ, gimp, pykrita, kritarc):
    assert installer.gimp_plugins_dir(environ, platform) == Path(gimp)
    assert installer.krita_pykrita_dir(environ, platform) == Path(pykrita)
    assert installer.kritarc_path(environ, platform) == Path(kritarc)


def test_flatpak_folders_are_used_when_only_the_flatpak_editors_ran(tmp_path):
    (tmp_path / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / "3.0").mkdir(parents=True)
    (tmp_path / ".var" / "app" / "org.kde.krita" / "data" / "krita").mkdir(parents=True)
    environ = {"HOME": str(tmp_path)}
    flatpaks = tmp_path / ".var" / "app"
    assert installer.gimp_plugins_dir(environ, "linux") == flatpaks / "org.gimp.GIMP/config/GIMP/3.0/plug-ins"
    assert installer.krita_pykrita_dir(environ, "linux") == flatpaks / "org.kde.krita/data/krita/pykrita"
    (tmp_path / ".config" / "GIMP" / "3.0").mkdir(parents=True)  # a native GIMP ran too: prefer it
    assert installer.gimp_plugins_dir(environ, "linux") == tmp_path / ".config" / "GIMP" / "3.0" / "plug-ins"


def test_vendored_modules_import_without_torch_or_numpy(home):
    """What the editors' Python sees: only the plug-in's own folder, no DeepFlash environment."""
    invoke("krita")
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    code = ("import sys; sys.path[:0] = [sys.argv[1]]; "
            "import deepflash, deepflash.document, deepflash.settings, deepflash.pixels; "
            "import deepflash_client.zmq_client, deepflash_editor.job, deepflash_editor.connection, deepflash_editor.settings; "
            "outside = sorted(name for name, module in sys.modules.items() if name.startswith('deepflash') "
            "and not str(getattr(module, '__file__', '') or sys.argv[1]).startswith(sys.argv[1])); "
            "assert not outside, outside; "
            "heavy = {'torch', 'numpy', 'cv2'} & set(sys.modules); assert not heavy, heavy; print('ok')")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(pykrita)], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_the_installed_gimp_plug_in_imports_only_from_its_own_folder(home):
    invoke("gimp")
    plugin = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "deepflash"
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/vendor']; "
            "import gimp_filter, deepflash_editor.connection, deepflash_editor.job, deepflash_client.zmq_client; "
            "mine = [m for n, m in sys.modules.items() if n.startswith('deepflash') or n == 'gimp_filter']; "
            "outside = [m.__name__ for m in mine if not str(getattr(m, '__file__', '') or sys.argv[1]).startswith(sys.argv[1])]; "
            "assert not outside, outside; "
            "heavy = {'torch', 'numpy', 'cv2'} & set(sys.modules); assert not heavy, heavy; print('ok')")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(plugin)], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


# --- what an uninstall leaves, and --purge ------------------------------------------------------------

@pytest.fixture
def user_home(home, monkeypatch):
    """``home`` where the servers' state folder also derives from HOME, as on a user's machine."""
    for name in ("DEEPFLASH_STATE_DIR", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return home


REPO = Path(__file__).resolve().parents[1]


def test_uninstall_says_what_stays_and_purge_removes_it_stopping_the_plug_ins_server(user_home, tiny_weights):
    from deepflash_client import state_files
    from deepflash_client.zmq_client import ServerLaunch, ensure_server
    from deepflash_server import lifecycle
    from server_helpers import PYTHON_SERVER, free_port, stop_server

    address = f"tcp://127.0.0.1:{free_port()}"
    config = user_home / ".config" / "deepflash"
    state = user_home / ".local" / "state" / "deepflash"
    (config / "logs").mkdir(parents=True)
    (config / "logs" / "gimp-plugin.log").write_text("a line\n")
    invoke("gimp", "--address", address)
    pid = ensure_server(address, ServerLaunch(command=PYTHON_SERVER, weights=str(tiny_weights),
                                              startup_timeout_s=180))["pid"]
    try:
        assert state_files.pid_path(address).parent == state
        result = invoke("gimp", "--uninstall")
        assert result.exit_code == 0, result.output
        assert f"{config}: the plug-ins' logs and settings" in result.output
        assert f"{state}: the server's logs" in result.output
        assert f"pid {pid}, started by a client (editor plug-in)" in result.output
        assert f"deepflash stop --server {address}" in result.output
        assert "deepflash install gimp --uninstall --purge" in result.output
        assert config.is_dir() and state.is_dir() and lifecycle.process_alive(pid)  # only said

        invoke("gimp", "--address", address)
        result = invoke("gimp", "--uninstall", "--purge")
        assert result.exit_code == 0, result.output
        assert f"Stopped the DeepFlash server (pid {pid}, started by a client" in result.output
        assert not lifecycle.process_alive(pid)
        assert not config.exists() and not state.exists()
    finally:
        stop_server(pid)


def test_purge_leaves_a_server_the_user_started_running_with_its_files(user_home, tiny_weights):
    import subprocess

    from deepflash_client import state_files
    from deepflash_client.zmq_client import DeepFlashClient
    from server_helpers import PYTHON_SERVER, free_port, wait_until_ready

    address = f"tcp://127.0.0.1:{free_port()}"
    stale_log = user_home / ".local" / "state" / "deepflash" / "server-1.log"
    stale_log.parent.mkdir(parents=True)
    stale_log.write_text("an old server\n")
    invoke("krita", "--address", address)
    process = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
            wait_until_ready(probe)
        result = invoke("krita", "--uninstall", "--purge")
        assert result.exit_code == 0, result.output
        assert f"Left running the DeepFlash server at {address} (pid {process.pid}" in result.output
        assert process.poll() is None
        assert state_files.pid_path(address).is_file() and state_files.log_path(address).is_file()
        assert not stale_log.exists()
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_purge_without_uninstall_is_refused(home):
    result = CliRunner().invoke(cli, ["install", "gimp", "--purge"])
    assert result.exit_code != 0 and "--purge goes with --uninstall" in str(result.exception)


def test_purge_removes_only_the_servers_files_from_a_state_folder_the_user_shares(home, monkeypatch):
    from server_helpers import free_port

    shared = home / "shared"
    monkeypatch.setenv("DEEPFLASH_STATE_DIR", str(shared))
    (shared / "photos").mkdir(parents=True)
    (shared / "photos" / "holiday.jpg").write_bytes(b"the user's")
    (shared / "notes.txt").write_text("the user's")
    ours = ["server-6000.log", "server-6000.log.1", "server-6000.pid", "server-6000.pid.4242", "server-run_df.log"]
    for name in ours:
        (shared / name).write_text("written by a server")
    invoke("gimp", "--address", f"tcp://127.0.0.1:{free_port()}")
    result = invoke("gimp", "--uninstall", "--purge")
    assert result.exit_code == 0, result.output
    assert (shared / "notes.txt").read_text() == "the user's"
    assert (shared / "photos" / "holiday.jpg").read_bytes() == b"the user's"
    assert sorted(path.name for path in shared.iterdir()) == ["notes.txt", "photos"]
    assert f"Removed the DeepFlash server files in {shared}; the folder stays" in result.output


def test_purge_removes_a_state_folder_that_holds_only_the_servers_files(home, monkeypatch):
    from server_helpers import free_port

    state = home / "state"
    monkeypatch.setenv("DEEPFLASH_STATE_DIR", str(state))
    state.mkdir()
    (state / "server-6000.log").write_text("written by a server")
    invoke("gimp", "--address", f"tcp://127.0.0.1:{free_port()}")
    result = invoke("gimp", "--uninstall", "--purge")
    assert result.exit_code == 0, result.output
    assert not state.exists() and f"Removed {state}" in result.output
