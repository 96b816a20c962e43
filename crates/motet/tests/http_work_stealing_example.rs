//! The work-stealing HTTP example answers correctly.

#[path = "common/http_check.rs"]
mod http_check;
#[path = "../examples/http_work_stealing.rs"]
#[allow(dead_code)]
mod work_stealing;

use http_check::check;
use motet::runtime::Runtime;

#[test]
fn work_stealing_example_serves_hello() {
    let rt = Runtime::builder().work_stealing(2).build().unwrap();
    let addr = rt.block_on(async {
        let listener = motet::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        motet::task::spawn(work_stealing::serve(listener)).detach();
        addr
    });
    for _ in 0..8 {
        check(addr);
    }
}
