//! A Ballista scheduler that plans with ndarray-inner's SQL functions and
//! `knn` nodes: `ndi-scheduler [--bind-host 127.0.0.1] [--port 50050]`.

mod args;

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::scheduler_process::start_server;

const USAGE: &str = "usage: ndi-scheduler [--bind-host HOST (127.0.0.1)] [--port PORT (50050)]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args::parse(USAGE, &["bind-host", "port"]);
    let host: String = args::get(&args, "bind-host", "127.0.0.1".to_string());
    let port: u16 = args::get(&args, "port", 50050);
    let mut config = ndarray_inner_datafusion::ballista::scheduler_config();
    config.bind_host = host.clone();
    config.external_host = host.clone();
    config.bind_port = port;
    let addr: SocketAddr = format!("{host}:{port}").parse()?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}
