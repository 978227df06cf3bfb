mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "udf",
    });
}
