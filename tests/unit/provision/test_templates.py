"""The Jinja2 environment: lazy nested variables, native values, Ansible filters and tests, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError, UndefinedVariableError
from kprov.provision.templates import TemplateEngine


@pytest.fixture
def scope():
    engine = TemplateEngine()
    return engine.scope(
        [
            (
                {
                    "name": "web",
                    "ref": "{{ name }}-1",
                    "nums": [3, 1, 3],
                    "cfg": {"a": 1},
                    "loop_a": "{{ loop_b }}",
                    "loop_b": "{{ loop_a }}",
                    "raw": "{{ not_rendered }}",
                },
                True,
            ),
        ]
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("{{ ref }}", "web-1"),
        ("{{ nums | unique | list }}", [3, 1]),
        ("{{ nums | union([4]) }}", [3, 1, 4]),
        ("{{ nums | difference([3]) }}", [1]),
        ("{{ cfg | to_json }}", '{"a": 1}'),
        ("{{ cfg | to_nice_yaml }}", "a: 1\n"),
        ("{{ '{\"x\": 2}' | from_json }}", {"x": 2}),
        ("{{ 'x: [1]' | from_yaml }}", {"x": [1]}),
        ("{{ 'hi' | b64encode }}", "aGk="),
        ("{{ 'aGk=' | b64decode }}", "hi"),
        ("{{ 'a-b-c' | regex_replace('-', '_') }}", "a_b_c"),
        ("{{ 'v1.2.3' | regex_search('[0-9.]+') }}", "1.2.3"),
        ("{{ 'yes' | bool }}", True),
        ("{{ '42' | int + 1 }}", "43"),  # a number comes back as text, as in Ansible
        ("{{ cfg | dict2items }}", [{"key": "a", "value": 1}]),
        ("{{ [{'key': 'k', 'value': 2}] | items2dict }}", {"k": 2}),
        ("{{ '/etc/kprov/x.conf' | basename }}", "x.conf"),
        ("{{ '/etc/kprov/x.conf' | dirname }}", "/etc/kprov"),
        ("{{ 'abc' | hash('md5') }}", "900150983cd24fb0d6963f7d28e17f72"),
        ("{{ missing | default('d') }}", "d"),
        (
            "{{ [{'n': 1, 'on': true}, {'n': 2, 'on': false}] | selectattr('on')"
            " | map(attribute='n') | list }}",
            [1],
        ),
        ("{{ nums | join(',') }}", "3,1,3"),
        ("x={{ nums | length }}", "x=3"),
        ("{{ 'abc' is match('a') }}", True),
        ("{{ '1.10' is version('1.9', '>') }}", True),
    ],
)
def test_filters_and_native_values(scope, expr, expected) -> None:
    assert scope.template(expr, "test") == expected


def test_conditions(scope) -> None:
    assert scope.condition("name == 'web'", "when") is True
    assert scope.condition("nums | length > 5", "when") is False
    assert scope.condition("{{ name == 'web' }}", "when") is True
    assert scope.condition("{'changed': True} is changed", "when") is True


def test_undefined_names_variable_and_template(scope) -> None:
    with pytest.raises(UndefinedVariableError) as err:
        scope.render("hello {{ nope }}", "roles/x/templates/a.j2")
    assert err.value.variable == "nope"
    assert "roles/x/templates/a.j2" in str(err.value)


def test_undefined_through_another_variable_names_both(scope) -> None:
    with pytest.raises(UndefinedVariableError) as err:
        scope.render("{{ raw }}", "t.j2")
    assert err.value.variable == "not_rendered"
    assert "t.j2" in str(err.value) and "raw" in str(err.value)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("nope.job_id is defined", False),
        ("nope['a'].b is undefined", True),
        ("cfg.missing.deeper is defined", False),
        ("(nope.job_id | default('none')) == 'none'", True),
    ],
)
def test_attribute_of_undefined_is_undefined_as_in_ansible(scope, expr, expected) -> None:
    # ansible-playbook: `when: result.ansible_job_id is defined` skips when `result` was never
    # registered on that host; the same guard must not fail the task here
    assert scope.condition(expr, "when") is expected


@pytest.mark.parametrize(("source", "name"), [("{{ nope.job_id }}", "nope"), ("x{{ nope['a'].b }}", "nope"),
                                              ("{{ cfg.missing.deeper }}", "missing")])
def test_using_an_attribute_of_undefined_still_fails(scope, source, name) -> None:
    with pytest.raises(UndefinedVariableError) as err:
        scope.template(source, "t.j2")
    assert err.value.variable == name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ nothing }}", None),  # a bare variable keeps its value
        ("{{ None }}", ""),  # not a variable: an expression
        ("{{ cfg.none_here | default(None) }}", ""),
        ("{{ nothing | default('x') }}", ""),  # defined (as None): no default; printed empty
        ("a {{ nothing }}|{{ none }}", "a |"),
        ("{{ [1, None] }}", [1, None]),  # inside a value None stays None
    ],
)
def test_none_printed_by_an_expression_is_empty_as_in_ansible(source, expected) -> None:
    # ansible-playbook 2.18 answers the same for each (set_fact, then debug)
    scope = TemplateEngine().scope([({"nothing": None, "cfg": {}}, True)])
    assert scope.template(source, "t") == expected


def test_self_reference_is_an_error(scope) -> None:
    with pytest.raises(TemplateError, match="refers to itself"):
        scope.template("{{ loop_a }}", "t")


def test_raw_layer_is_not_rendered_again() -> None:
    engine = TemplateEngine()
    scope = engine.scope([({"out": "{{ literal }}"}, False)])
    assert scope.template("{{ out }}", "t") == "{{ literal }}"


def test_text_around_a_single_expression_is_kept(scope) -> None:
    assert scope.template("{{ name }}\n", "t") == "web\n"
    assert scope.template(" {{ nums }}", "t") == " [3, 1, 3]"


def test_environment_globals_reach_task_templates(tmp_path) -> None:
    """lookup/omit/range are globals: a task's template (rendered through a VarScope) sees them."""
    from kprov.provision.templates import TemplateEngine

    f = tmp_path / "motd"
    f.write_text("hello\n")
    scope = TemplateEngine().scope([({"path": str(f)}, False)])
    assert scope.render("{{ lookup('file', path) }}-{{ range(2) | list }}", "task") == "hello-[0, 1]"
    assert scope.evaluate("lookup('file', path) == 'hello'", "when") is True


def test_compiled_templates_are_kept_on_disk_for_the_next_run(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = TemplateEngine(bytecode_dir=tmp_path)
    assert first.scope([({"x": 2}, False)]).render("{{ x * 3 }}!", "t") == "6!"
    assert list(tmp_path.iterdir())
    again = TemplateEngine(bytecode_dir=tmp_path)

    def no_compile(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(again.env, "compile", no_compile)
    assert again.scope([({"x": 5}, False)]).render("{{ x * 3 }}!", "t") == "15!"
    with pytest.raises(AssertionError, match="compiled again"):
        again.scope([({"x": 5}, False)]).render("{{ x * 4 }}!", "t")  # another source compiles


def test_a_test_of_constants_is_answered_when_rendered_not_when_compiled(tmp_path: Path) -> None:
    """Jinja2's optimizer would fold ``'<path>' is exists`` into the compiled code, kept on disk
    and in memory: a path made after the first render read as missing in every later run."""
    made = tmp_path / "made-later"
    test = f"'{made}' is exists"
    first = TemplateEngine(bytecode_dir=tmp_path / "jinja")
    assert first.scope([]).evaluate(test, "when") is False
    made.mkdir()
    assert first.scope([]).evaluate(test, "when") is True  # the same run, compiled once
    next_run = TemplateEngine(bytecode_dir=tmp_path / "jinja")
    assert next_run.scope([]).render("{{ " + test + " }}", "t") == "True"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("{{ lookup('first_found', 'no-such-file.yml', errors='ignore') }}", ""),
        ("{{ lookup('first_found', 'no-such-file.yml', errors='warn') is none }}", True),
        ("{{ q('first_found', 'no-such-file.yml', errors='ignore') }}", []),
    ],
)
def test_a_failed_lookup_under_errors_ignore_or_warn_gives_nothing(scope, expr, expected) -> None:
    """ansible-core's ``errors`` option of every lookup: lookup() gives None, query() []."""
    assert scope.template(expr, "t") == expected


def test_a_failed_lookup_is_an_error_by_default_and_errors_is_checked(scope) -> None:
    with pytest.raises(TemplateError, match="No file was found when using first_found"):
        scope.template("{{ lookup('first_found', 'no-such-file.yml') }}", "t")
    with pytest.raises(TemplateError, match="'errors' must be one of"):
        scope.template("{{ lookup('first_found', 'x', errors='loud') }}", "t")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("{{ lookup('csvfile', 'file=people.csv, delimiter=, col=1') }}",
         "Search key is required but was not found"),
        ("{{ lookup('csvfile', 'foo', file='no-such.csv') }}",
         "expected str, bytes or os.PathLike object"),
    ],
)
def test_csvfile_errors_are_ansible_cores(scope, expr, message) -> None:
    with pytest.raises(TemplateError, match=message):
        scope.template(expr, "t")


def test_with_indexed_items_over_a_mapping_is_ansible_cores_error(scope) -> None:
    from kprov.provision.lookups import run_lookup
    with pytest.raises(TemplateError, match="with_indexed_items expects a list"):
        run_lookup("indexed_items", {"a": 1}, {}, scope)
    assert run_lookup("indexed_items", ["x", "y"], {}, scope) == [[0, "x"], [1, "y"]]


def test_subelements_errors_and_mapping_input_are_ansible_cores(scope) -> None:
    from kprov.provision.lookups import run_lookup
    users = [{"name": "alice", "mysql": {"hosts": ["localhost"]}}]
    assert run_lookup("subelements", [users, "mysql.hosts"], {}, scope) == [[users[0], "localhost"]]
    assert run_lookup("subelements", [{"k": users[0]}, "mysql.hosts"], {}, scope) == [[users[0], "localhost"]]
    for terms, message in (([9001, "groups"], "expects a dictionary, got '9001'"),
                           ([True, ["x"]], "first a dict or a list, second a string"),
                           ([users, "mysql.hosts", "x"], "the optional third item must be a dict"),
                           ([users, "name.x"], "should point to a dictionary"),
                           ([users, "monkey"], "could not find 'monkey' key in iterated item")):
        with pytest.raises(TemplateError, match=message):
            run_lookup("subelements", terms, {}, scope)


def test_first_found_reads_nested_terms_splits_paths_on_colons_and_skips_undefined(scope, tmp_path) -> None:
    from kprov.provision.lookups import run_lookup
    (tmp_path / "b.yml").write_text("")
    variables = {"ansible_search_path": [str(tmp_path)]}
    found = run_lookup("first_found", [[{"files": ["{{ no_such_var }}.yml", "b.yml"],
                                         "paths": f"/nonexistent:{tmp_path}"}]], variables, scope)
    assert found == [str((tmp_path / "b.yml").resolve())]


def test_inline_lookup_options_are_read_as_parse_kv_reads_them(scope, tmp_path) -> None:
    from kprov.provision.lookups import run_lookup
    (tmp_path / "people.csv").write_text('German von Lastname,Demo\n"""The Rock"" Johnson",Dwayne\n')
    (tmp_path / "cool list.csv").write_text("maybe\tx\twork\n")
    variables = {"ansible_search_path": [str(tmp_path)]}

    def csv(term: str) -> list[str]:
        return run_lookup("csvfile", [term], variables, scope)

    assert csv("German von Lastname file=people.csv delimiter=, col=1") == ["Demo"]
    assert csv('"The Rock" Johnson file=people.csv delimiter=, col=1') == ["Dwayne"]
    assert csv('maybe file="cool list.csv" delimiter=TAB col=2') == ["work"]
    assert csv("notfound file=people.csv delimiter=, col=1") == []
    with pytest.raises(TemplateError, match="thisarg is not a valid option"):
        csv("foo file=people.csv delimiter=, col=1 thisarg=doesnotexist")


def test_lookup_of_nothing_is_an_empty_list_as_in_ansible_core() -> None:
    from kprov.provision.lookups import join_lookup
    assert join_lookup([]) == []
    assert join_lookup(["a", "b"]) == "a,b"


def test_groupby_gives_plain_pairs_as_ansible_core(scope) -> None:
    fruits = "[{'name': 'apple', 'enjoy': true}, {'name': 'orange', 'enjoy': false}]"
    assert scope.template("{{ " + fruits + " | groupby('enjoy') }}", "t") == [
        [False, [{"name": "orange", "enjoy": False}]], [True, [{"name": "apple", "enjoy": True}]]]


@pytest.mark.parametrize(
    ("terms", "kw", "expected"),
    [(["4"], {}, ["1", "2", "3", "4"]), (["2-6/2"], {}, ["2", "4", "6"]),
     (["7-8:host%02d"], {}, ["host07", "host08"]), (["start=0 count=3 stride=2"], {}, ["0", "2", "4"]),
     ([], {"start": 5, "end": 6}, ["5", "6"])],
)
def test_sequence_forms(scope, terms, kw, expected) -> None:
    from kprov.provision.lookups import run_lookup
    assert run_lookup("sequence", terms, {}, scope, **kw) == expected


@pytest.mark.parametrize(
    ("term", "message"),
    [("start=0 junk=3", r"unrecognized arguments to with_sequence: \['junk'\]"),
     ("start=A end=3", "^Invalid type for"), ("start=1", "must specify count or end"),
     ("start=1 end=3 count=2", "can't specify both count and end"),
     ("start=5 end=1", "to count backwards make stride negative"),
     ("start=1 end=4 format=d", "bad formatting string: d")],
)
def test_sequence_errors_are_ansible_cores(scope, term, message) -> None:
    from kprov.provision.lookups import run_lookup
    with pytest.raises(TemplateError, match=message):
        run_lookup("sequence", [term], {}, scope)


def test_rendered_text_that_is_a_literal_is_read_back_as_ansible_core_does(scope) -> None:
    """ansible_eval_concat: a folded scalar's ``{{ [x] + y }}`` and its newline is a list."""
    assert scope.template("{{ ['a'] + nums }}\n", "t") == ["a", 3, 1, 3]
    assert scope.template("[{{ nums | length }}, 2]", "t") == [3, 2]
    assert scope.template("[section]\n{{ name }}", "t") == "[section]\nweb"  # not a literal: text
    assert scope.template(" {{ nums }}", "t") == " [3, 1, 3]"
