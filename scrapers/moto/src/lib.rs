//! A local EC2 endpoint for tests and benches.
//!
//! [`Moto`] starts `moto_server` (PyPI `moto[server]`) on a free port of 127.0.0.1 and stops it
//! when dropped. It is found at `$GRAPHD_MOTO_SERVER`, else in the workspace's `.venv` (which
//! `./scripts/test` sets up); a test that cannot start it fails and says how to install it.
//! Starting it also gives the process credentials for moto in the environment
//! (`AWS_ACCESS_KEY_ID`), where a scraper with the default credentials finds them.
//! [`Moto::ec2`] gives a client to build an estate with, in the default account or in another
//! one reached by assuming a role. [`RegionBlocker`] stands in front of moto and refuses every
//! call signed for the regions it is told to block, as a region that denies access would.

mod blocker;

pub use blocker::{signed_region, RegionBlocker};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::{Credentials, SharedCredentialsProvider};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The account moto puts calls in unless a role of another account was assumed.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// How long moto may take to listen (it imports a lot of Python the first time).
const START_PATIENCE: Duration = Duration::from_secs(60);

/// A running `moto_server`, stopped on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers. Panics, saying why and how to
    /// install moto, if it cannot.
    pub fn start() -> Moto {
        static CREDENTIALS: Once = Once::new();
        // The scraper finds credentials the default way: give it some for moto, once, before
        // any test of this process reads the environment (every one starts moto first).
        CREDENTIALS.call_once(|| {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        });
        let program = moto_server();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut moto = Moto { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
        let started = Instant::now();
        while TcpStream::connect(moto.addr).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("{} exited at start ({status})", program.display());
            }
            assert!(started.elapsed() < START_PATIENCE, "moto_server did not listen on {} within a minute", moto.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client of EC2 in `region` of `account` (assuming a role of it unless it is
    /// [`DEFAULT_ACCOUNT`]), to build an estate with.
    pub async fn ec2(&self, account: &str, region: &str) -> aws_sdk_ec2::Client {
        let base = sdk_config(&self.url(), region, Credentials::new("testing", "testing", None, None, "moto")).await;
        if account == DEFAULT_ACCOUNT {
            return aws_sdk_ec2::Client::new(&base);
        }
        let assumed = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/estate-builder"))
            .role_session_name("estate-builder")
            .send()
            .await
            .expect("moto lets any role be assumed");
        let c = assumed.credentials().expect("an assumed role has credentials");
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "assumed",
        );
        aws_sdk_ec2::Client::new(&sdk_config(&self.url(), region, credentials).await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sdk_config(url: &str, region: &str, credentials: Credentials) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(url)
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .load()
        .await
}

/// `$GRAPHD_MOTO_SERVER`, else the workspace's `.venv/bin/moto_server`.
fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("GRAPHD_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    assert!(
        venv.exists(),
        "moto_server is not installed: run ./scripts/test (or `python3 -m venv .venv && \
         .venv/bin/pip install 'moto[server]'` in the workspace), or set GRAPHD_MOTO_SERVER"
    );
    venv
}
