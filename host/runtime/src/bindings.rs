//! The one `bindgen!` of the host: the interfaces psaflow provides to nodes (the `kit` world
//! imports exactly the transport and the shared types). Node exports are called dynamically
//! (see `invoke.rs`) so that third-party nodes with their own input records need no host code.

wasmtime::component::bindgen!({
    path: "../../wit/halopsa",
    world: "kit",
    imports: { default: async },
});

pub use psaflow::halopsa::transport;
