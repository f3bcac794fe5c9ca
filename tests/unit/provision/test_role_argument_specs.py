"""Role argument specs: the validation task ansible-core prepends, and its checks' messages."""

from __future__ import annotations

from pathlib import Path

from kprov.provision.playbook.argspec import validate, validation_task
from kprov.provision.playbook.loader import load_playbook

SPEC = {
    "port": {"type": "int", "required": True},
    "mode": {"type": "str", "choices": ["fast", "safe"]},
    "items": {"type": "list", "elements": "int"},
    "user": {"type": "dict", "options": {"name": {"type": "str", "required": True}}},
    "flag": {"type": "bool", "aliases": ["switch"]},
}


def test_valid_parameters_pass_with_conversions() -> None:
    assert validate(SPEC, {"port": "8080", "mode": "fast", "items": "1,2", "switch": "yes",
                           "user": {"name": "x"}}) == []


def test_messages_in_ansible_cores_order() -> None:
    assert validate(SPEC, {"mode": "slow", "items": [1, "a"], "user": {}, "typo": 1, "flag": "maybe"}) == [
        "missing required arguments: port",
        "Elements value for option 'items' is of type <class 'str'> and we were unable to convert to int: "
        "\"'a'\" cannot be converted to an int",
        "argument 'flag' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' "
        "is not a valid boolean.  Valid booleans include: 'on', 1, 'n', '1', 'no', 'false', 'off', 'yes', "
        "'0', 'f', 'y', 'true', 't'",
        "value of mode must be one of: fast, safe, got: slow",
        "missing required arguments: name found in user",
        "typo. Supported parameters include: flag (switch), items, mode, port, user.",
    ]


def test_the_task_is_named_and_tagged_as_ansible_cores(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "r"
    (role / "meta").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: R\n    options: {port: {type: int}}\n")
    (role / "tasks" / "main.yml").write_text("- debug: {msg: hi}\n")
    (tmp_path / "play.yml").write_text("- hosts: all\n  roles:\n    - {role: r, port: 1, vars: {x: 2}}\n")
    tasks = [item for item in load_playbook(tmp_path / "play.yml").plays[0].items if item.action != "meta"]
    first = tasks[0]
    assert first.name == "Validating arguments against arg spec 'main' - R"
    assert first.action == "validate_argument_spec"
    assert "always" in first.tags
    assert first.args["provided_arguments"] == {"port": 1}
    other = validation_task({"options": {}}, "other", {})
    assert other["name"] == "Validating arguments against arg spec 'other'"
