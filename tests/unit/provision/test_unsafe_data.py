"""Unsafe data as ansible-core 2.18 tracks it (template_unsafe, round 11 of decisions 0055):
what a template read decides whether its result is ever rendered again, set_fact values are
rendered when read, and ``hostvars`` is the host's own variables, rendered leniently. The
playbook cases were run with ansible-playbook 2.18.19 first (local connection)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import UndefinedVariableError
from kprov.provision.template_unsafe import KeySubset, UnsafeMemo, is_unsafe, lenient, wrap_unsafe
from kprov.provision.templates import TemplateEngine
from kprov.provision.yamlfile import UnsafeText

from .harness import run_fake


def _scope(**variables: object):  # type: ignore[no-untyped-def]
    return TemplateEngine().scope([(variables, True)])


def test_a_template_that_reads_unsafe_text_gives_unsafe_text() -> None:
    scope = _scope(u=UnsafeText("{{ x }}"), x="1", items=[UnsafeText("a")])
    assert isinstance(scope.template("{{ u }}", "t"), UnsafeText)
    assert scope.template("<{{ u }}>", "t") == "<{{ x }}>"
    assert isinstance(scope.template("<{{ u }}>", "t"), UnsafeText)
    assert is_unsafe(scope.template("{{ items + ['b'] }}", "t"))  # inside a list counts too
    plain = scope.template("<{{ x }}>", "t")
    assert plain == "<1>" and not isinstance(plain, UnsafeText)


def test_a_registered_result_and_a_lookup_make_the_result_unsafe() -> None:
    scope = _scope(r={"stdout": "{{ x }}"}, x="1")
    scope.untrusted = frozenset({"r"})
    assert isinstance(scope.template("{{ r.stdout }}", "t"), UnsafeText)
    assert isinstance(scope.template("{{ lookup('items', ['a']) }}", "t"), UnsafeText)
    allowed = scope.template("{{ lookup('items', ['a'], allow_unsafe=True) }}", "t")
    assert allowed == "a" and not isinstance(allowed, UnsafeText)
    assert not isinstance(scope.template("{{ x }}", "t"), UnsafeText)


def test_wrap_and_lenient_and_the_key_subset() -> None:
    wrapped = wrap_unsafe({"k": ["a", 1, ("b",)]})
    assert all(isinstance(s, UnsafeText) for s in (*wrapped, wrapped["k"][0], wrapped["k"][2][0]))
    assert wrapped["k"][1] == 1 and not is_unsafe({"k": ["a"]})
    memo, plain = UnsafeMemo(), {"k": ["a"]}
    assert memo(wrapped) and not memo(plain) and not memo(plain) and memo(UnsafeText("x"))

    def render(text: str) -> str:
        if "missing" in text:
            raise UndefinedVariableError("missing", "t")
        return text.upper()

    assert lenient(["{{ missing }}", "ok"], render) == ["{{ missing }}", "OK"]
    both = {"a": 1, "r": 2}
    assert dict(KeySubset(both, {"r"}, inside=False)) == {"a": 1}
    assert dict(KeySubset(both, {"r"}, inside=True)) == {"r": 2} and "a" not in KeySubset(both, {"r"}, True)


_ISSUE_64169 = {
    "site.yml": ("- hosts: all\n  gather_facts: false\n  vars: {version: '1.0', pv: play}\n  tasks:\n"
                 "    - include_vars: foo.yml\n"
                 # a with_* item is a lookup's: what it feeds set_fact is never rendered again
                 "    - set_fact: \"{{ item.key }}={{ hostvars[inventory_hostname][item.value] }}\"\n"
                 "      with_dict: {foo: __foo}\n"
                 "    - assert: {that: [\"foo[0] == unsafe\"]}\n"
                 "      vars: {unsafe: !unsafe 'foo{{ version }}'}\n"
                 # a loop: item is plain data: the stored text is rendered when foo is read
                 "    - set_fact: \"{{ item.key }}={{ hostvars[inventory_hostname][item.value] }}\"\n"
                 "      loop: \"{{ {'bar': '__foo'} | dict2items }}\"\n"
                 "    - assert: {that: [\"bar[0] == 'foo1.0'\"]}\n"
                 "    - set_fact: {seen: \"{{ hostvars[inventory_hostname].pv | default('UNDEF') }}\"}\n"
                 "    - debug: {msg: \"{{ '{{' }} pv }}\"}\n      register: r\n"
                 "    - set_fact: {copied: '{{ r.msg }}', built: \"{{ '{{' }} pv }}\"}\n"
                 "    - assert: {that: [\"copied == '{{ '{{' }} pv }}'\", \"built == 'play'\"]}\n"),
    "foo.yml": "__foo:\n  - \"foo{{ version }}\"\n",
}


def test_issue_64169_with_dict_keeps_the_text_and_loop_renders_it_when_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, runtime = run_fake(tmp_path, monkeypatch, _ISSUE_64169, ["h1"])
    assert report.ok, [r.msg for r in report.results if r.status == "failed"]
    facts = runtime["h1"]
    # hostvars saw neither the play's vars (version undefined: the text kept as written)
    assert facts["foo"] == ["foo{{ version }}"] and isinstance(facts["foo"][0], UnsafeText)
    assert facts["bar"] == ["foo{{ version }}"] and not isinstance(facts["bar"][0], UnsafeText)
    assert facts["seen"] == "UNDEF"  # ansible-core's hostvars has no play vars
    # a registered result is data: set_fact copies it unsafe; text a template built is not
    assert isinstance(facts["copied"], UnsafeText) and facts["built"] == "{{ pv }}"


def test_unsafe_text_dumps_as_yaml_like_any_string() -> None:
    scope = _scope(d={UnsafeText("k"): [UnsafeText("v")]})
    assert scope.template("{{ d | to_yaml }}", "t") == "k: [v]\n"
    assert scope.template("{{ d | to_nice_yaml }}", "t") == "k:\n- v\n"


def test_type_debug_names_unsafe_text_as_ansible_core_does() -> None:
    scope = _scope(u=UnsafeText("a"), s="a")
    assert scope.template("{{ u | type_debug }} {{ s | type_debug }}", "t") == "AnsibleUnsafeText str"
