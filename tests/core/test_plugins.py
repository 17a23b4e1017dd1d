"""Plugins by file, by module name, by $BOMF_PLUGINS and by entry point; broken ones in one line."""

import subprocess
import sys
import textwrap

import pytest

from bomf.core import plugins
from bomf.core.errors import BomfError
from bomf.core.registry import Registry

PLUGIN = textwrap.dedent('''
    from bomf.core.registry import Registry
    import builtins
    REGISTRY = getattr(builtins, "_bomf_test_registry")
    REGISTRY.register("{name}", {value})
''')


@pytest.fixture(autouse=True)
def forget_loaded_plugins(monkeypatch):
    """Plugins loaded here must not be handed to the jobs of later tests (``plugins.loaded()``)."""
    monkeypatch.setattr(plugins, "_LOADED", dict(plugins._LOADED))


@pytest.fixture
def registry(monkeypatch):
    import builtins

    reg = Registry("colour", entry_point_group="bomf.test-colours")
    monkeypatch.setattr(builtins, "_bomf_test_registry", reg, raising=False)
    return reg


def test_a_file_plugin_registers_once_and_travels_with_its_source(tmp_path, registry):
    path = tmp_path / "red.py"
    path.write_text(PLUGIN.format(name="red", value=1))
    plugin = plugins.resolve("red.py", base=tmp_path)
    assert plugin.kind == "file" and plugin.path == str(path) and "REGISTRY.register" in plugin.source
    plugins.load([plugin])
    plugins.load([plugins.resolve(str(path))])  # the same file again: not re-executed (no double registration)
    assert registry.get("red") == 1 and plugin in plugins.loaded()
    # A worker without the file loads it from the source the job carries.
    path.unlink()
    sys.modules.pop(plugin.module)
    registry._items.clear()
    plugins.load([plugin])
    assert registry.get("red") == 1


def test_a_module_plugin_is_found_in_the_suites_folder_or_the_cwd(tmp_path, registry, monkeypatch):
    (tmp_path / "bomf_test_green_plugin.py").write_text(PLUGIN.format(name="green", value=2))
    with pytest.raises(BomfError, match="neither a file nor an importable module"):
        plugins.resolve("bomf_test_green_plugin")  # not on sys.path, not in the cwd
    plugin = plugins.resolve("bomf_test_green_plugin", base=tmp_path)
    assert plugin.kind == "module"
    plugins.load([plugin])
    assert registry.get("green") == 2
    sys.modules.pop("bomf_test_green_plugin")


def test_bomf_plugins_names_several(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("X = 1\n")
    (tmp_path / "b.py").write_text("X = 2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOMF_PLUGINS", "a.py, b.py")
    assert [m.X for m in plugins.load(plugins.from_environment())] == [1, 2]


def test_a_broken_plugin_is_one_line_naming_it(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('no data here')\n")
    with pytest.raises(BomfError) as info:
        plugins.load(["broken.py"], base=tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and "'broken.py' failed to load (RuntimeError: no data here)" in msg
    with pytest.raises(BomfError, match="does not exist"):
        plugins.resolve("missing/file.py", base=tmp_path)


def _fake_distribution(site, group, name, value):
    dist = site / "bomf_test_dist-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bomf-test-dist\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = {value}\n")


def test_entry_points_are_imported_by_the_registry(tmp_path, registry, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "bomf_test_blue_plugin.py").write_text(PLUGIN.format(name="blue", value=3))
    _fake_distribution(site, "bomf.test-colours", "blue", "bomf_test_blue_plugin")
    monkeypatch.syspath_prepend(str(site))
    assert registry.names() == ["blue"] and registry.get("blue") == 3
    sys.modules.pop("bomf_test_blue_plugin")


def test_a_broken_entry_point_names_its_distribution(tmp_path, registry, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "bomf.test-colours", "gone", "bomf_test_no_such_module")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(BomfError) as info:
        registry.names()
    msg = str(info.value)
    assert "\n" not in msg and "bomf-test-dist" in msg and "'gone'" in msg and "uninstall" in msg


def test_every_command_takes_plugin(tmp_path):
    """``bomf list`` (a fresh process) shows a task that only a --plugin file registers."""
    (tmp_path / "my_task.py").write_text(textwrap.dedent('''
        from bomf.tasks import Split, Splits, Task, register_task
        def load():
            s = Split(["good", "bad", "fine", "awful"], None, [1, 0, 1, 0])
            return Splits(train=s, val=s, test=s)
        register_task(Task(name="plugin-words", kind="classification", num_labels=2, metrics=("accuracy",),
                           primary_metric="accuracy", load=load, source="offline", description="from a plugin"))
    '''))
    run = lambda *args: subprocess.run([sys.executable, "-m", "bomf.cli", *args], capture_output=True, text=True,  # noqa: E731
                                       cwd=tmp_path)
    proc = run("list", "tasks", "--plugin", "my_task.py")
    assert proc.returncode == 0 and "plugin-words" in proc.stdout, proc.stderr
    proc = run("list", "tasks")
    assert proc.returncode == 0 and "plugin-words" not in proc.stdout
    proc = run("list", "tasks", "--plugin", "nope.py")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "nope.py does not exist" in proc.stderr


def test_a_package_module_that_fails_to_import_is_named_on_every_call(tmp_path, monkeypatch):
    """Before: the first call raised the module's own error, every later one "unknown colour 'red'"
    (discovery was marked done before its imports), which hid the cause behind a registry miss."""
    pkg = tmp_path / "colourpkg_broken"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a_good.py").write_text(PLUGIN.format(name="green", value=2))
    (pkg / "b_broken.py").write_text(PLUGIN.format(name="red", value=1) + "\nraise TypeError('bad keyword')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    registry = Registry("colour", packages=("colourpkg_broken",))
    monkeypatch.setattr(builtins, "_bomf_test_registry", registry, raising=False)  # where the modules register
    for _ in range(2):
        with pytest.raises(BomfError, match=r"cannot load colour module colourpkg_broken\.b_broken: TypeError: bad keyword"):
            registry.get("green")
    (pkg / "b_broken.py").write_text(PLUGIN.format(name="red", value=1))
    sys.modules.pop("colourpkg_broken.b_broken", None)
    assert registry.get("red") == 1 and registry.get("green") == 2
