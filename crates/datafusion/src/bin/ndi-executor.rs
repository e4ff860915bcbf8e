//! A Ballista executor with ndarray-inner's SQL functions and `knn` nodes
//! compiled in: `ndi-executor [--bind-host 127.0.0.1] [--port 50051]
//! [--grpc-port 50052] [--scheduler-host localhost] [--scheduler-port 50050]
//! [--concurrent-tasks N] [--work-dir DIR]`.

mod args;

use std::sync::Arc;

use ballista_executor::executor_process::start_executor_process;

const USAGE: &str = "usage: ndi-executor [--bind-host HOST (127.0.0.1)] [--port PORT (50051)] \
[--grpc-port PORT (50052)] [--scheduler-host HOST (localhost)] [--scheduler-port PORT (50050)] \
[--concurrent-tasks N (cores)] [--work-dir DIR (a temporary directory)]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args::parse(
        USAGE,
        &[
            "bind-host",
            "port",
            "grpc-port",
            "scheduler-host",
            "scheduler-port",
            "concurrent-tasks",
            "work-dir",
        ],
    );
    let mut config = ndarray_inner_datafusion::ballista::executor_config();
    config.bind_host = args::get(&args, "bind-host", config.bind_host.clone());
    config.external_host = Some(config.bind_host.clone());
    config.port = args::get(&args, "port", config.port);
    config.grpc_port = args::get(&args, "grpc-port", config.grpc_port);
    config.scheduler_host = args::get(&args, "scheduler-host", config.scheduler_host.clone());
    config.scheduler_port = args::get(&args, "scheduler-port", config.scheduler_port);
    config.vcores = args::get(&args, "concurrent-tasks", config.vcores);
    config.work_dir = args.get("work-dir").cloned();
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}
