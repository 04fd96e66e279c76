//! A node that loops, traps or eats memory is stopped and reported as a 500 envelope, and the
//! host carries on serving other nodes. Also: third-party nodes load from a folder, with docs
//! from the WIT beside them, and capabilities psaflow does not give are refused.

use psaflow_runtime::{NodeLimits, Runtime};
use psaflow_tests::{built_component, harness, scratch_dir, status};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn chaos_folder() -> std::path::PathBuf {
    let dir = scratch_dir("chaos-nodes");
    std::fs::copy(built_component("chaos"), dir.join("chaos.wasm")).unwrap();
    let wit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../components/testing/chaos/wit/chaos.wit"
    );
    std::fs::copy(wit, dir.join("chaos.wit")).unwrap();
    dir
}

fn chaos_runtime(h: &psaflow_tests::Harness) -> Runtime {
    let limits = NodeLimits {
        memory_bytes: 32 << 20,
        cpu_budget: Duration::from_millis(300),
        wall_timeout: Duration::from_secs(20),
    };
    let cache = psaflow_tests::target_dir().join("tmp/psaflow-cache");
    Runtime::builder()
        .connection(psaflow_halopsa::CONNECTOR, Arc::new(h.client.clone()))
        .nodes_dir(chaos_folder())
        .cache_dir(Some(cache))
        .limits(limits)
        .build()
        .unwrap()
}

/// `testing.chaos.misbehave` with `Behaviour: behaviour`, its envelope as JSON. The future owns
/// its runtime handle, so it can be spawned.
fn misbehave(
    rt: &Runtime,
    behaviour: &'static str,
) -> impl std::future::Future<Output = serde_json::Value> + Send + 'static {
    let rt = rt.clone();
    async move {
        let mut params = serde_json::Map::new();
        params.insert("Behaviour".into(), json!(behaviour));
        rt.invoke("testing.chaos.misbehave", params).await.to_json()
    }
}

#[tokio::test]
async fn third_party_node_is_catalogued_from_its_folder_with_docs() {
    let h = harness().await;
    let rt = chaos_runtime(&h);
    let spec = rt
        .catalog()
        .get("testing.chaos.misbehave")
        .expect("chaos node loaded from the folder");
    assert_eq!(
        spec.description,
        "Misbehaves on purpose: loops, traps or exhausts memory."
    );
    assert!(spec.source.ends_with("chaos.wasm"), "{}", spec.source);
    let param = spec.param("Behaviour").unwrap();
    assert!(param.required);
    assert_eq!(param.description, "How to misbehave.");
    assert_eq!(rt.output_name("testing.chaos.misbehave"), Some("Chaos"));
    // Built-in nodes are still there.
    assert!(rt.catalog().get("halopsa.client.create").is_some());
}

#[tokio::test]
async fn looping_trapping_and_memory_hungry_nodes_are_stopped_and_the_host_carries_on() {
    let h = harness().await;
    let rt = chaos_runtime(&h);
    let run = |behaviour: &'static str| misbehave(&rt, behaviour);

    let spun = run("spin").await;
    assert_eq!(status(&spun), (500, 0), "{spun}");
    assert!(
        spun["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("CPU budget"),
        "{spun}"
    );
    assert_eq!(spun["Chaos"], json!({}));

    let trapped = run("trap").await;
    assert_eq!(status(&trapped), (500, 0), "{trapped}");
    assert!(
        trapped["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("crashed"),
        "{trapped}"
    );

    let hoarded = run("exhaust-memory").await;
    assert_eq!(status(&hoarded), (500, 0), "{hoarded}");
    assert!(
        hoarded["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("memory limit of 32 MiB"),
        "{hoarded}"
    );

    // The same runtime still runs nodes, its own and built-in ones.
    let fine = run("succeed").await;
    assert_eq!(status(&fine), (200, 0), "{fine}");
    assert_eq!(fine["Chaos"], json!({"behaved": true}));
    let mut params = serde_json::Map::new();
    params.insert("Id".into(), json!(1));
    let client = rt.invoke("halopsa.client.get", params).await;
    assert!(client.is_success(), "{:?}", client);
}

/// Instances come from reused pool slots: nothing one invocation leaves in its memory (statics,
/// grown and dirtied pages) may be seen by the next, sequential or concurrent, and a node
/// stopped at its memory limit leaves nothing behind either.
#[tokio::test]
async fn pooled_instances_start_fresh_every_time() {
    let h = harness().await;
    let rt = chaos_runtime(&h);
    let run = |behaviour: &'static str| misbehave(&rt, behaviour);
    let first = run("remember").await;
    assert_eq!(status(&first), (200, 0), "{first}");
    let fresh = &first["Chaos"];
    assert_eq!(fresh["calls_before"], json!(0), "{first}");
    assert_eq!(fresh["mark_before"], json!(7), "{first}");
    assert_eq!(fresh["fresh_memory_was_zero"], json!(true), "{first}");
    for _ in 0..5 {
        let again = run("remember").await;
        assert_eq!(&again["Chaos"], fresh, "a later invocation saw an earlier one's memory");
    }
    let together: Vec<_> = (0..12).map(|_| tokio::spawn(run("remember"))).collect();
    for handle in together {
        let env = handle.await.unwrap();
        assert_eq!(&env["Chaos"], fresh, "a concurrent invocation saw another's memory");
    }
    // The memory limit holds in a pool slot, and the slot is clean afterwards.
    let hoarded = run("exhaust-memory").await;
    assert!(
        hoarded["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("memory limit of 32 MiB"),
        "{hoarded}"
    );
    let after = run("remember").await;
    assert_eq!(&after["Chaos"], fresh, "{after}");
}

#[tokio::test]
async fn a_bad_parameter_becomes_a_validation_envelope_naming_it() {
    let h = harness().await;
    let rt = chaos_runtime(&h);
    let mut params = serde_json::Map::new();
    params.insert("Behaviour".into(), json!("explode"));
    let env = rt.invoke("testing.chaos.misbehave", params).await.to_json();
    assert_eq!(status(&env), (-1, 0));
    assert!(
        env["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("Behaviour must be one of succeed, spin, trap, exhaust-memory, remember"),
        "{env}"
    );

    let env = h.invoke("halopsa.client.get", json!({"Id": "seven"})).await;
    assert_eq!(status(&env), (-1, 0));
    assert_eq!(
        env["ErrorMessage"],
        "Id must be an integer, got the text \"seven\""
    );
    let env = h.invoke("halopsa.client.get", json!({"Idd": 7})).await;
    assert!(
        env["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("no parameter Idd (did you mean Id?)"),
        "{env}"
    );
    let env = h.invoke("halopsa.client.get", json!({})).await;
    assert_eq!(env["ErrorMessage"], "Id is required");
    assert_eq!(
        h.api_requests(),
        0,
        "no request may be sent for a bad parameter"
    );
}

#[tokio::test]
async fn a_node_asking_for_capabilities_psaflow_does_not_give_is_refused_at_load() {
    // A component importing an interface with functions other than the transport/WASI.
    let dir = scratch_dir("greedy-nodes");
    let bytes = std::fs::read(built_component("chaos")).unwrap();
    // Not a valid component at all: refused with a reason, never loaded.
    std::fs::write(dir.join("broken.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let h = harness().await;
    let rt = Runtime::builder()
        .connection(psaflow_halopsa::CONNECTOR, Arc::new(h.client.clone()))
        .nodes_dir(&dir)
        .cache_dir(None)
        .build()
        .unwrap();
    assert_eq!(rt.warnings().len(), 1, "{:?}", rt.warnings());
    assert!(
        rt.warnings()[0].contains("broken.wasm"),
        "{:?}",
        rt.warnings()
    );
}

/// Built-in nodes run with a 256 KiB linear-memory stack (components/.cargo/config.toml): JSON as
/// deep as serde_json reads (128 levels) still goes through, and deeper JSON is refused in
/// words, not by a crashed node.
#[tokio::test]
async fn deeply_nested_json_fits_the_nodes_stack() {
    let h = harness().await;
    let nested = |depth: usize| (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }));
    // AdditionalFields is parsed inside the node; the request body nests one level deeper.
    let deep = h
        .invoke(
            "halopsa.client.create",
            json!({"Name": "Deep Nesting Ltd", "AdditionalFields": {"customfields": nested(120)}}),
        )
        .await;
    assert_eq!(status(&deep), (200, 201), "{deep}");
    let too_deep = h
        .invoke(
            "halopsa.client.create",
            json!({"Name": "Deeper Nesting Ltd", "AdditionalFields": {"customfields": nested(200)}}),
        )
        .await;
    // serde_json stops at 128 levels: the node refuses the parameter, naming it.
    assert_eq!(status(&too_deep), (-1, 0), "{too_deep}");
    let message = too_deep["ErrorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("AdditionalFields must be a JSON object"),
        "{too_deep}"
    );
    assert!(message.contains("recursion limit"), "{too_deep}");
}
