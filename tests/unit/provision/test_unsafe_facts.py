"""Facts a module returned are unsafe data, as ansible-core 2.18's executor wraps them
(``wrap_var`` of ``result['ansible_facts']`` for every action but set_fact and include_vars):
a template that reads a string fact (or the ``ansible_facts`` mapping) gives text that is
never rendered again, and an inline ``{{ }}`` of one in a conditional is refused. A number
fact is not text: reading it leaves the result trusted. The gathered facts (the setup
module's) are module facts too. The play was run with ansible-playbook 2.18.19 first (local
connection) and gave the values asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kprov.provision.execute import RunOptions
from kprov.provision.pipelines import apply

# a library module that returns its ``facts`` argument as ansible_facts
_FACT_ECHO = """\
from ansible.module_utils.basic import AnsibleModule
m = AnsibleModule(argument_spec=dict(facts=dict(type='dict', required=True)))
m.exit_json(changed=False, ansible_facts=m.params['facts'])
"""

_PLAY = """\
- hosts: h1
  gather_facts: true
  vars: {x: rendered}
  tasks:
    - fact_echo:
        facts: {echo_text: !unsafe '{{ x }}', echo_list: [!unsafe '{{ x }}'], echo_num: 1, echo_word: a}
    - set_fact:
        c1: "{{ echo_text }}"
        c2: "{{ ansible_facts.echo_text }}"
        c3: "{{ echo_list[0] }}"
        c4: "{{ echo_num }}{{ '{{' }} x }}"
        c5: "{{ echo_word }}{{ '{{' }} x }}"
        c6: "{{ '{{' }} x }}"
        g1: "{{ ansible_system }}{{ '{{' }} x }}"
        g2: "{{ ansible_facts.processor_vcpus }}{{ '{{' }} x }}"
        g3: "{{ ansible_processor_vcpus }}{{ '{{' }} x }}"
    - debug: {msg: "{{ c1 }}|{{ c2 }}|{{ c3 }}|{{ c4 }}|{{ c5 }}|{{ c6 }}|{{ g1 }}|{{ g2 }}|{{ g3 }}"}
    - debug: {msg: num}
      when: "{{ echo_num }} == 1"
    - debug: {msg: word}
      when: "'{{ echo_word }}' == 'a'"
      ignore_errors: true
    - debug: {msg: system}
      when: "'{{ ansible_system }}' == 'Linux'"
      ignore_errors: true
"""


def test_module_facts_and_gathered_facts_are_unsafe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "fact_echo.py").write_text(_FACT_ECHO)
    host = f"{{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}"
    (tmp_path / "hosts.yml").write_text(f"all:\n  hosts:\n    h1: {host}\n")
    (tmp_path / "site.yml").write_text(_PLAY)
    report = apply([str(tmp_path / "hosts.yml")], tmp_path / "site.yml", RunOptions())
    shown = [r for r in report.results if r.action == "debug"]
    values = str(shown[0].result["msg"]).split("|")
    cpus = values[-1].removesuffix("rendered")
    assert cpus.isdigit(), values
    # copied from a fact: kept as written; a number fact or no fact: rendered when read
    assert values == ["{{ x }}", "{{ x }}", "{{ x }}", "1rendered", "a{{ x }}", "rendered",
                      "Linux{{ x }}", cpus + "{{ x }}", cpus + "rendered"], values
    assert shown[1].status == "ok" and shown[1].result["msg"] == "num"
    for refused in shown[2:]:
        assert refused.status == "failed" and refused.ignored, refused
        assert refused.msg.endswith("Conditional is marked as unsafe, and cannot be evaluated."), refused.msg
    assert len(shown) == 4
