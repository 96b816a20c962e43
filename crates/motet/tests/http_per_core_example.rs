//! The per-core HTTP example answers correctly on every core.

#[path = "common/http_check.rs"]
mod http_check;
#[path = "../examples/http_per_core.rs"]
#[allow(dead_code)]
mod per_core;

use http_check::check;
use motet::runtime::Runtime;

#[test]
fn per_core_example_serves_hello() {
    let rt = Runtime::builder().per_core(2).build().unwrap();
    let shards = motet::net::reuseport_listeners("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = shards[0].local_addr().unwrap();
    let loops = per_core::start(&rt, shards);
    // Several connections, so both cores' listeners get some.
    for _ in 0..8 {
        check(addr);
    }
    for l in &loops {
        assert!(!l.is_finished(), "an accept loop died");
    }
}
