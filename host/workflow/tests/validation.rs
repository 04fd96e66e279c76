//! Every validation error names its exact line:column and says how to fix it.
mod common;

use psaflow_workflow::{Diagnostic, validate};

fn errors(yaml: &str) -> Vec<Diagnostic> {
    let wf = match psaflow_workflow::parse(yaml, "wf.yaml") {
        Ok(wf) => wf,
        Err(d) => return d.0,
    };
    match validate(&wf, &common::catalog()) {
        Ok(()) => Vec::new(),
        Err(d) => d.0,
    }
}

/// Asserts that exactly this diagnostic is among `errs`.
#[track_caller]
fn expect(errs: &[Diagnostic], line: usize, column: usize, message: &str, help: Option<&str>) {
    let same: Vec<&Diagnostic> = errs.iter().filter(|d| d.message == message).collect();
    let found = same
        .iter()
        .find(|d| (d.line, d.column) == (line, column))
        .or(same.first())
        .copied();
    let Some(d) = found else {
        panic!(
            "no error {message:?}; got:\n{}",
            errs.iter()
                .map(|d| format!("{}:{} {} | {:?}", d.line, d.column, d.message, d.help))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "position of {message:?}"
    );
    assert_eq!(d.help.as_deref(), help, "help of {message:?}");
    assert_eq!(d.file, "wf.yaml");
}

const HEAD: &str = "name: t\ninputs:\n  client_name: { type: string, required: true }\nsteps:\n";

#[test]
fn the_contract_example_is_valid() {
    let yaml = r#"name: onboard-client
inputs:
  client_name: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.client_name }}
  - id: site
    node: halopsa.site.create
    with:
      Name: Head office
      SiteClientId: ${{ steps.client.Client.id }}
  - id: open
    node: halopsa.ticket.get-many
  - id: close_each
    node: halopsa.ticket.update
    for_each: ${{ steps.open.Tickets.tickets }}
    if: ${{ item.agent_id == 4 }}
    with:
      Id: ${{ item.id }}
    retry: { max_attempts: 3, backoff: exponential }
    continue_on_error: true
outputs:
  client_id: ${{ steps.client.Client.id }}
"#;
    assert_eq!(errors(yaml), vec![]);
}

#[test]
fn yaml_syntax_error_points_at_the_problem() {
    let errs = errors("name: t\nsteps:\n  - id: a\n    node: [x\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].message, "YAML syntax error: unclosed bracket '['");
    assert_eq!(
        (errs[0].line, errs[0].column),
        (4, 11),
        "points at the bracket that is never closed"
    );
}

#[test]
fn unquoted_expression_in_flow_mapping_gets_a_quoting_hint() {
    let errs = errors(&format!(
        "{HEAD}  - id: a\n    node: halopsa.client.create\n    with: {{ Name: ${{{{ inputs.client_name }}}} }}\n"
    ));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 7);
    assert_eq!(
        errs[0].help.as_deref(),
        Some(
            "an expression inside `{ ... }` or `[ ... ]` must be quoted: Name: \"${{ inputs.name }}\""
        )
    );
}

#[test]
fn unknown_keys_suggest_near_names() {
    let errs = errors(
        "name: t\ndescripton: x\nsteps:\n  - id: a\n    node: halopsa.client.create\n    with: { Name: x }\n    contine_on_error: true\n",
    );
    expect(
        &errs,
        2,
        1,
        "unknown key 'descripton' at the top level of the workflow",
        Some("did you mean 'description'?"),
    );
    expect(
        &errs,
        7,
        5,
        "unknown key 'contine_on_error' in step",
        Some("did you mean 'continue_on_error'?"),
    );
    assert_eq!(errs.len(), 2);
}

#[test]
fn missing_id_and_node_and_duplicate_ids() {
    let errs = errors(
        "name: t\nsteps:\n  - node: halopsa.client.get\n    with: { Id: 1 }\n  - id: a\n  - id: b\n    node: halopsa.client.get\n    with: { Id: 1 }\n  - id: b\n    node: halopsa.client.get\n    with: { Id: 2 }\n",
    );
    expect(
        &errs,
        3,
        5,
        "step has no `id`",
        Some("add `id: some_name`; later steps refer to it as steps.some_name"),
    );
    expect(
        &errs,
        5,
        5,
        "step 'a' has no `node`",
        Some("add e.g. `node: <connector>.<resource>.<operation>` (`psaflow nodes` lists them), or `set:` with named values to compute"),
    );
    expect(
        &errs,
        9,
        9,
        "duplicate step id 'b'",
        Some("the first step with this id is at line 6; step ids must be unique"),
    );
    assert_eq!(errs.len(), 3);
}

#[test]
fn unknown_node_and_parameter_suggest_near_names() {
    let errs = errors(
        "name: t\nsteps:\n  - id: a\n    node: halopsa.client.creat\n    with: { Name: x }\n  - id: site\n    node: halopsa.site.create\n    with:\n      Name: x\n      SiteClientID: 5\n",
    );
    expect(
        &errs,
        4,
        11,
        "unknown node 'halopsa.client.creat'",
        Some("did you mean 'halopsa.client.create'?"),
    );
    expect(
        &errs,
        10,
        7,
        "unknown parameter 'SiteClientID' for node halopsa.site.create",
        Some("did you mean 'SiteClientId'?"),
    );
    // The misspelt required parameter is reported once, not also as missing.
    assert_eq!(errs.len(), 2);
}

#[test]
fn missing_required_parameter() {
    let errs = errors(
        "name: t\nsteps:\n  - id: site\n    node: halopsa.site.create\n    with:\n      Name: x\n",
    );
    expect(
        &errs,
        5,
        5,
        "step 'site' is missing required parameter 'SiteClientId' for halopsa.site.create",
        Some("add `SiteClientId: <integer>` under `with:`"),
    );
    assert_eq!(errs.len(), 1);
}

#[test]
fn load_reports_a_missing_file() {
    let err = psaflow_workflow::load(std::path::Path::new("/nonexistent/wf.yaml")).unwrap_err();
    assert!(
        err.0[0]
            .message
            .starts_with("cannot read the workflow file"),
        "{err}"
    );
    assert_eq!(err.0[0].file, "/nonexistent/wf.yaml");
}

#[test]
fn wrong_literal_types() {
    let errs = errors(
        "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with:\n      Id: abc\n  - id: b\n    node: halopsa.client.update\n    with: { Id: \"7\", Inactive: maybe }\n",
    );
    expect(
        &errs,
        6,
        11,
        "parameter 'Id' of halopsa.client.get expects an integer, got \"abc\"",
        Some("Id: a whole number, e.g. 42, or an expression like ${{ steps.client.Client.id }}"),
    );
    expect(
        &errs,
        9,
        32,
        "parameter 'Inactive' of halopsa.client.update expects true or false, got \"maybe\"",
        Some("Inactive: true or false"),
    );
    assert_eq!(errs.len(), 2, "a quoted number is fine for an integer");
}

#[test]
fn expression_syntax_error_points_inside_the_value() {
    let errs = errors(&format!(
        "{HEAD}  - id: a\n    node: halopsa.client.create\n    with:\n      Name: Client ${{{{ inputs.client_name + }}}}\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    let d = &errs[0];
    assert!(
        d.message
            .starts_with("expression syntax error in `inputs.client_name +`"),
        "{}",
        d.message
    );
    assert_eq!(d.line, 8);
    assert!(
        d.column > 20,
        "points inside the expression, not at the value start: {}",
        d.column
    );
    let errs = errors(&format!(
        "{HEAD}  - id: a\n    node: halopsa.client.create\n    with:\n      Name: \"x ${{{{ inputs.client_name\"\n"
    ));
    expect(
        &errs,
        8,
        16,
        "expression is not closed: `${{` without a matching `}}`",
        Some(
            "write expressions as ${{ inputs.name }}; to write a literal `${{`, put it in quotes inside an expression: ${{ '${{' }}",
        ),
    );
}

#[test]
fn references_to_unknown_later_or_own_steps() {
    let yaml = "name: t\nsteps:\n  - id: site\n    node: halopsa.client.get\n    with: { Id: 1 }\n  - id: a\n    node: halopsa.client.get\n    with:\n      Id: ${{ steps.sitee.Client.id }}\n  - id: b\n    node: halopsa.client.get\n    with:\n      Id: ${{ steps.c.Client.id }}\n  - id: c\n    node: halopsa.client.get\n    with:\n      Id: \"${{ steps.c.Client.id }}\"\n";
    let errs = errors(yaml);
    expect(
        &errs,
        9,
        11,
        "steps.sitee: no step 'sitee' (did you mean 'site'?)",
        Some("steps before this one: site"),
    );
    expect(
        &errs,
        13,
        11,
        "steps.c: step 'c' runs later, after step 'b'",
        Some("a step can only read the results of steps above it; move it or the step it reads"),
    );
    expect(
        &errs,
        17,
        12,
        "steps.c: step 'c' cannot read its own result",
        Some("a step can only read the results of steps above it"),
    );
    assert_eq!(errs.len(), 3);
}

#[test]
fn undeclared_input_and_unknown_root_name() {
    let errs = errors(&format!(
        "{HEAD}  - id: a\n    node: halopsa.client.create\n    with:\n      Name: ${{{{ inputs.client_nme }}}}\n      Notes: ${{{{ input.client_name }}}}\n"
    ));
    expect(
        &errs,
        8,
        13,
        "inputs.client_nme: no input 'client_nme' (did you mean 'client_name'?)",
        Some("declared inputs: client_name"),
    );
    expect(
        &errs,
        9,
        14,
        "unknown name 'input' (did you mean 'inputs'?)",
        Some(
            "expressions can read inputs.<name>, steps.<id>, env.<NAME>, and item/index inside for_each",
        ),
    );
    assert_eq!(errs.len(), 2);
}

#[test]
fn item_outside_for_each() {
    let errs = errors(
        "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: \"${{ item.id }}\" }\n  - id: b\n    node: halopsa.client.get\n    for_each: ${{ item }}\n    with: { Id: \"${{ item.id }}\" }\noutputs:\n  x: ${{ index }}\n",
    );
    expect(
        &errs,
        5,
        18,
        "`item` is only defined in a step with `for_each`",
        Some("add `for_each:` to this step, or read a value from inputs or steps"),
    );
    expect(
        &errs,
        8,
        15,
        "`item` is only defined in a step with `for_each`",
        Some("add `for_each:` to this step, or read a value from inputs or steps"),
    );
    expect(
        &errs,
        11,
        6,
        "`index` is only defined in a step with `for_each`",
        Some(
            "`item` and `index` exist in a for_each step's `with` and `if`, not in its `for_each` list or in outputs",
        ),
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
}

#[test]
fn bad_retry_and_timeout_values() {
    let errs = errors(
        "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: 1 }\n    timeout: soon\n    retry:\n      max_attempts: 0\n      backoff: exponentail\n      retry_on: [system, busines]\n      initial_interval: 5x\n    concurrency: 0\n",
    );
    expect(
        &errs,
        6,
        14,
        "`timeout` must be a positive duration, found 'soon'",
        Some("write a duration like 500ms, 30s, 2m, or a number of seconds"),
    );
    expect(
        &errs,
        8,
        21,
        "`max_attempts` must be a whole number of at least 1, found 0",
        None,
    );
    expect(
        &errs,
        9,
        16,
        "unknown backoff \"exponentail\"",
        Some("did you mean 'exponential'?"),
    );
    expect(
        &errs,
        10,
        26,
        "unknown retry_on value \"busines\"",
        Some("did you mean 'business'?"),
    );
    expect(
        &errs,
        11,
        25,
        "`initial_interval` must be a positive duration, found '5x'",
        Some("write a duration like 500ms, 30s, 2m, or a number of seconds"),
    );
    expect(
        &errs,
        12,
        18,
        "`concurrency` must be a whole number of at least 1, found 0",
        None,
    );
    assert_eq!(errs.len(), 6);
}

#[test]
fn literal_client_secret_is_refused() {
    let errs = errors(
        "name: t\nconnection:\n  api_url: https://acme.halopsa.com/api\n  client_id: abc\n  client_secret: hunter2\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: 1 }\n",
    );
    expect(
        &errs,
        5,
        3,
        "`connection.client_secret` must not be written in the workflow file",
        Some(
            "put the secret in a HALOPSA_* or PSAFLOW_* environment variable and name it: client_secret_env: HALOPSA_CLIENT_SECRET",
        ),
    );
    assert_eq!(errs.len(), 1);
    assert!(
        !errs[0].render(false).contains("hunter2")
            || errs[0].render(false).contains("client_secret: hunter2")
    );
}

#[test]
fn destructive_step_in_for_each_needs_confirm() {
    let yaml = "name: t\ninputs:\n  ids: { type: list, default: [] }\nsteps:\n  - id: purge\n    node: halopsa.user.delete\n    for_each: ${{ inputs.ids }}\n    with: { Id: \"${{ item }}\" }\n";
    let errs = errors(yaml);
    expect(
        &errs,
        6,
        11,
        "step 'purge' runs halopsa.user.delete (it deletes records) once per for_each item; this needs `confirm: true`",
        Some(
            "add `confirm: true` to the step after checking the list with `psaflow run --dry-run`",
        ),
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(errors(&format!("{yaml}    confirm: true\n")), vec![]);
}

#[test]
fn an_update_given_its_deactivating_value_in_for_each_needs_confirm() {
    let step = |inactive: &str| {
        format!(
            "name: t\ninputs:\n  ids: {{ type: list, default: [] }}\n  off: {{ type: boolean, default: false }}\nsteps:\n  - id: close\n    node: halopsa.client.update\n    for_each: ${{{{ inputs.ids }}}}\n    with: {{ Id: \"${{{{ item }}}}\", Inactive: {inactive} }}\n"
        )
    };
    let yaml = step("true");
    let errs = errors(&yaml);
    expect(
        &errs,
        7,
        11,
        "step 'close' runs halopsa.client.update with Inactive: true (it deactivates records) once per for_each item; this needs `confirm: true`",
        Some(
            "add `confirm: true` to the step after checking the list with `psaflow run --dry-run`",
        ),
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(errors(&format!("{yaml}    confirm: true\n")), vec![]);
    // Another value is an update; a value known only at run time may be the deactivating one.
    assert_eq!(errors(&step("false")), vec![]);
    assert_eq!(errors(&step("\"${{ inputs.off }}\"")).len(), 1);
    assert_eq!(errors(&step("\"${{ inputs.off }}\"").replace("    with:", "    confirm: true\n    with:")), vec![]);
}

#[test]
fn for_each_without_expression_delimiters_suggests_them() {
    let errs = errors(
        "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    for_each: steps.x.list\n    with: { Id: 1 }\n",
    );
    expect(
        &errs,
        5,
        15,
        "`for_each` needs a list or an expression that gives one",
        Some("did you mean ${{ steps.x.list }}?"),
    );
}

#[test]
fn all_errors_are_collected_and_rendered_with_caret_and_help() {
    let yaml = "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with:\n      Idd: 1\n  - id: b\n    nod: halopsa.client.get\n";
    let wf = psaflow_workflow::parse(yaml, "wf.yaml").unwrap();
    let diags = validate(&wf, &common::catalog()).unwrap_err();
    let text = diags.to_string();
    assert!(diags.len() >= 3, "{text}");
    assert!(text.contains("wf.yaml:6:7"), "{text}");
    assert!(text.contains("      Idd: 1"), "{text}");
    assert!(text.contains("^^^"), "{text}");
    assert!(text.contains("help: did you mean 'Id'?"), "{text}");
    assert!(text.contains("wf.yaml:8:5"), "{text}");
    assert!(text.contains("help: did you mean 'node'?"), "{text}");
    assert!(!text.contains('\u{1b}'), "plain text has no colour codes");
    assert!(text.trim_end().ends_with("errors"), "{text}");
    // In source order.
    let lines: Vec<usize> = diags.iter().map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn inputs_with_bad_types_and_defaults() {
    let errs = errors(
        "name: t\ninputs:\n  n: { type: integr }\n  m: { type: integer, default: abc }\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: 1 }\n",
    );
    expect(
        &errs,
        3,
        14,
        "unknown input type 'integr'",
        Some("did you mean 'integer'?"),
    );
    expect(
        &errs,
        4,
        32,
        "default of input 'm': expected an integer, got the text \"abc\"",
        None,
    );
}

#[test]
fn unknown_filters_and_tests_are_errors_before_running() {
    let yaml = format!(
        "{HEAD}  - id: c\n    node: halopsa.client.create\n    with:\n      Name: ${{{{ inputs.client_name | lenght }}}}\noutputs:\n  x: ${{{{ inputs.client_name is emtpy }}}}\n"
    );
    let errs = errors(&yaml);
    expect(
        &errs,
        8,
        13,
        "unknown filter 'lenght' (did you mean length?)",
        errs.iter()
            .find(|d| d.message.starts_with("unknown filter"))
            .and_then(|d| d.help.as_deref()),
    );
    assert!(
        errs.iter().any(|d| d.message.starts_with("unknown test 'emtpy'") && d.line == 10),
        "{errs:?}"
    );
}

#[test]
fn env_lists_the_variables_expressions_may_read() {
    let yaml = "name: t\nenv: [REGION]\nsteps:\n  - id: a\n    node: halopsa.client.create\n    with: { Name: \"${{ env.REGION }}\" }\n";
    assert_eq!(errors(yaml), Vec::new());
    // Reading a variable that is not declared is an error at the expression.
    let yaml = "name: t\nenv: [REGION]\nsteps:\n  - id: a\n    node: halopsa.client.create\n    with: { Name: \"${{ env.REGOIN }}\" }\n";
    let errs = errors(yaml);
    expect(
        &errs,
        6,
        20,
        "env.REGOIN: 'REGOIN' is not declared (did you mean 'REGION'?)",
        Some("add it to `env:` (declared: REGION)"),
    );
    let yaml = "name: t\nsteps:\n  - id: a\n    node: halopsa.client.create\n    with: { Name: \"${{ env.HOME }}\" }\n";
    expect(
        &errors(yaml),
        5,
        20,
        "env.HOME: 'HOME' is not declared",
        Some("expressions see only the variables listed at the top of the workflow: add `env: [HOME]`"),
    );
}

#[test]
fn step_output_references_are_checked_against_the_declared_output_key() {
    let yaml = format!(
        "{HEAD}  - id: c\n    node: halopsa.client.create\n    with:\n      Name: x\n  - id: s\n    node: halopsa.site.create\n    with:\n      Name: HQ\n      SiteClientId: ${{{{ steps.c.Clients.id }}}}\n"
    );
    let errs = errors(&yaml);
    let d = errs
        .iter()
        .find(|d| d.message.starts_with("steps.c.Clients"))
        .unwrap_or_else(|| panic!("{errs:?}"));
    assert_eq!((d.line, d.column), (13, 21));
    assert!(d.message.contains("did you mean Client"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("steps.c.Client"), "{:?}", d.help);
    // The status fields are always there.
    let ok = format!(
        "{HEAD}  - id: c\n    node: halopsa.client.create\n    with:\n      Name: x\noutputs:\n  e: ${{{{ steps.c.ErrorMessage }}}}\n  id: ${{{{ steps.c.Client.id }}}}\n"
    );
    assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
}

#[test]
fn set_steps_names_and_hooks_are_checked() {
    let yaml = format!(
        "{HEAD}  - id: s\n    set:\n      count: 3\n  - id: c\n    node: halopsa.client.create\n    with:\n      Name: ${{{{ steps.s.cuont }}}}\non_failure:\n  - id: c\n    set: {{ why: \"${{{{ run.error }}}}\" }}\n"
    );
    let errs = errors(&yaml);
    assert!(
        errs.iter().any(|d| d.message.starts_with("steps.s.cuont: no 'cuont'") && d.message.contains("did you mean count")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|d| d.message == "duplicate step id 'c'" && d.line == 13),
        "{errs:?}"
    );
    // `run` exists only in on_failure/finally steps.
    let main_run = format!("{HEAD}  - id: s\n    set:\n      x: ${{{{ run.status }}}}\n");
    assert!(
        errors(&main_run).iter().any(|d| d.message.starts_with("unknown name 'run'")),
        "{:?}",
        errors(&main_run)
    );
}

#[test]
fn env_cannot_list_a_credential() {
    let yaml = "name: t\nenv:\n  - REGION\n  - HALOPSA_CLIENT_SECRET\n  - CONNECTWISE_PRIVATE_KEY\n  - GITHUB_TOKEN\n  - db_password\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: \"${{ env.HALOPSA_CLIENT_SECRET | reverse }}\" }\n";
    let errs = errors(yaml);
    let help = Some(
        "psaflow passes credentials to the connection itself; a workflow never needs them. Rename the variable if it is not a credential",
    );
    let marked = "its name marks it as a credential (it contains one of SECRET, TOKEN, PASSWORD, PASSWD, KEY, CREDENTIAL); workflows cannot read credentials";
    for (line, name) in [
        (4, "HALOPSA_CLIENT_SECRET"),
        (5, "CONNECTWISE_PRIVATE_KEY"),
        (6, "GITHUB_TOKEN"),
        (7, "db_password"),
    ] {
        expect(
            &errs,
            line,
            5,
            &format!("`env` cannot list {name}: {marked}"),
            help,
        );
    }
    // The expression reading it is refused as well, at its own position.
    expect(
        &errs,
        11,
        18,
        "env.HALOPSA_CLIENT_SECRET: 'HALOPSA_CLIENT_SECRET' is not declared",
        Some("expressions cannot read credentials; psaflow passes them to the connection itself"),
    );
    assert_eq!(errs.len(), 5, "{errs:?}");
}

#[test]
fn env_cannot_list_the_variable_the_connection_reads_its_secret_from() {
    let yaml = "name: t\nconnection:\n  api_url: https://acme.halopsa.com/api\n  client_id: abc\n  client_secret_env: HALOPSA_PROD\nenv: [HALOPSA_PROD, REGION, REGION, 9X]\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: 1 }\n";
    let errs = errors(yaml);
    expect(
        &errs,
        6,
        7,
        "`env` cannot list HALOPSA_PROD: it holds the connection's client secret; workflows cannot read credentials",
        Some(
            "psaflow passes credentials to the connection itself; a workflow never needs them. Rename the variable if it is not a credential",
        ),
    );
    expect(&errs, 6, 29, "`env` lists REGION twice", None);
    expect(
        &errs,
        6,
        37,
        "'9X' is not an environment variable name",
        Some("use letters, digits and _ only, not starting with a digit"),
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
    let errs = errors("name: t\nenv: { REGION: eu }\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Id: 1 }\n");
    expect(
        &errs,
        2,
        6,
        "`env` must be a list of environment variable names, e.g. env: [REGION, DEFAULT_AGENT]",
        None,
    );
}

#[test]
fn an_unknown_function_suggests_the_nearest_function_or_filter() {
    let yaml = format!(
        "{HEAD}  - id: s\n    set:\n      a: ${{{{ dayz_ago(3) }}}}\n      b: ${{{{ lenght(inputs.client_name) }}}}\n      c: ${{{{ frobnicate(1) }}}}\n"
    );
    let errs = errors(&yaml);
    let messages: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(&"unknown function 'dayz_ago' (did you mean 'days_ago'?)"),
        "{messages:?}"
    );
    assert!(
        messages.contains(
            &"unknown function 'lenght' (did you mean the filter 'length': value | length?)"
        ),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"unknown function 'frobnicate'"),
        "{messages:?}"
    );
    let help = errs[0].help.as_deref().unwrap_or("");
    assert!(help.contains("days_ago"), "{help}");
}

#[test]
fn a_text_parameter_given_a_number_yaml_rewrites_is_an_error() {
    for (written, read) in [
        ("1.10", "the number 1.1"),
        ("0x1F", "the number 31"),
        ("1e3", "the number 1000.0"),
        ("TRUE", "the boolean true"),
    ] {
        let yaml = format!(
            "{HEAD}  - id: a\n    node: halopsa.client.create\n    with:\n      Name: {written}   # a comment\n"
        );
        expect(
            &errors(&yaml),
            8,
            13,
            &format!("Name is text; {written} is read as {read} — quote it: \"{written}\""),
            Some(
                "YAML reads an unquoted number or true/false as a number or boolean; Name takes text, so write it in quotes",
            ),
        );
    }
    // The text is kept: a number written as it reads, a quoted value, an expression.
    for ok in ["5", "\"1.10\"", "${{ inputs.client_name }}", "{ a: 1 }"] {
        let yaml = format!(
            "{HEAD}  - id: a\n    node: halopsa.client.create\n    with:\n      Name: {ok}\n"
        );
        let errs = errors(&yaml);
        assert!(
            !errs.iter().any(|d| d.message.contains("is text;")),
            "{ok}: {errs:?}"
        );
    }
}
