//! How fast the hub forwards, without sockets: 10,000 attached connections (5,000 pairs),
//! each receiver a task draining its queue, senders calling `Hub::handle` from tasks.
//!
//! ```sh
//! cargo run --release -p imkit-server-mock --example hub_throughput -- [connections] [messages]
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use imkit_protocols::{Command, Conversation, Dialect, UserId};
use imkit_server_mock::hub::Outgoing;
use imkit_server_mock::{Hub, HubConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let messages: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(connections, messages));
}

async fn run(connections: usize, messages: u64) {
    let hub = Hub::new(HubConfig {
        seed: Some(1),
        ..HubConfig::default()
    });
    let peer = SocketAddr::from(([127, 0, 0, 1], 1));
    let received = Arc::new(AtomicU64::new(0));
    let mut conns = Vec::with_capacity(connections);
    for n in 0..connections {
        let (conn, mut outbound) = hub.attach(Dialect::Newim, peer);
        hub.handle(
            conn,
            Command::Login {
                user: UserId::from(n as u64),
                secret: None,
                device: None,
            },
        )
        .expect("login");
        let received = received.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(64);
            while let Some(event) = outbound.recv().await {
                batch.push(event);
                outbound.try_recv_many(&mut batch, 63);
                let delivered = batch
                    .iter()
                    .filter(|item| matches!(item, Outgoing::Delivery(_)))
                    .count();
                received.fetch_add(delivered as u64, Ordering::Relaxed);
                batch.clear();
            }
        });
        conns.push(conn);
    }
    let senders = connections / 2;
    let per_sender = messages / senders as u64;
    let total = per_sender * senders as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for pair in 0..senders {
        let hub = hub.clone();
        let from = conns[2 * pair];
        let to = Conversation::User(UserId::from((2 * pair + 1) as u64));
        tasks.push(tokio::spawn(async move {
            for n in 0..per_sender {
                let sent = hub.handle(
                    from,
                    Command::Send {
                        to: to.clone(),
                        client_ref: n.to_string(),
                        content: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                            .into(),
                    },
                );
                if sent.is_err() {
                    eprintln!("refused: {sent:?}");
                    return;
                }
                // Like a connection task between two reads.
                if n % 8 == 7 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
    while received.load(Ordering::Relaxed) < total {
        if start.elapsed().as_secs() > 120 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let got = received.load(Ordering::Relaxed);
    let stats = hub.stats();
    println!(
        "{connections} connections: {got}/{total} messages delivered in {:.2} s = {:.0} msg/s \
         (stored {}, slow consumers {})",
        elapsed.as_secs_f64(),
        got as f64 / elapsed.as_secs_f64(),
        stats.stored,
        stats.slow_consumers
    );
}
