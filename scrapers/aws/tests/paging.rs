//! The scraper against a stub of the EC2 and STS query APIs that does what moto does not:
//! it splits every listing into pages joined by `NextToken`, throttles a call once, and lists
//! the account's enabled regions. Every resource of every page must arrive, once.

use axum::extract::State;
use graphd_core::scrape::{Mode, StatusBoard};
use graphd_scrape_aws::{run_account, AwsSource, Event};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const ACCOUNT: &str = "222233334444";
const REGIONS: [&str; 2] = ["stub-east-1", "stub-west-1"];
/// Resources of each kind the stub lists, over two pages.
const PER_KIND: usize = 3;

/// Every call the stub answered: (region, action, next token sent).
type Calls = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

/// The element name of a listing and of one of its entries, by action.
fn listing(action: &str, n: usize) -> Option<(&'static str, String)> {
    Some(match action {
        "DescribeVpcs" => ("vpcSet", format!("<vpcId>vpc-{n}</vpcId><state>available</state>")),
        "DescribeSubnets" => ("subnetSet", format!("<subnetId>subnet-{n}</subnetId><vpcId>vpc-0</vpcId>")),
        "DescribeSecurityGroups" => ("securityGroupInfo", format!("<groupId>sg-{n}</groupId><vpcId>vpc-0</vpcId>")),
        "DescribeInstances" => (
            "reservationSet",
            format!(
                "<reservationId>r-{n}</reservationId><instancesSet><item><instanceId>i-{n}</instanceId>\
                 <imageId>ami-{n}</imageId><instanceState><code>16</code><name>running</name></instanceState>\
                 </item></instancesSet>"
            ),
        ),
        "DescribeInstanceStatus" => (
            "instanceStatusSet",
            format!(
                "<instanceId>i-{n}</instanceId><instanceStatus><status>ok</status></instanceStatus>\
                 <systemStatus><status>{}</status></systemStatus>",
                if n == 0 { "impaired" } else { "ok" }
            ),
        ),
        "DescribeVolumes" => ("volumeSet", format!("<volumeId>vol-{n}</volumeId><status>in-use</status>")),
        "DescribeNetworkInterfaces" => {
            ("networkInterfaceSet", format!("<networkInterfaceId>eni-{n}</networkInterfaceId><status>in-use</status>"))
        }
        "DescribeImages" => ("imagesSet", format!("<imageId>ami-{n}</imageId><imageState>available</imageState>")),
        _ => return None,
    })
}

async fn answer(
    State(calls): State<Calls>,
    headers: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let action = form.get("Action").cloned().unwrap_or_default();
    let token = form.get("NextToken").cloned();
    let region = graphd_moto::signed_region(&headers).unwrap_or_default();
    let throttle = {
        let mut calls = calls.lock().unwrap();
        calls.push((region.clone(), action.clone(), token.clone()));
        // The first DescribeVolumes of each region is throttled.
        action == "DescribeVolumes" && calls.iter().filter(|(r, a, _)| *r == region && *a == action).count() == 1
    };
    let ec2 = "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";
    if throttle {
        let error = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.\
                     </Message></Error></Errors><RequestID>t</RequestID></Response>";
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, error.to_owned());
    }
    let body = match action.as_str() {
        "GetCallerIdentity" => format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Arn>arn:aws:iam::{ACCOUNT}:user/graphd</Arn><UserId>graphd</UserId><Account>{ACCOUNT}</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        ),
        "DescribeRegions" => {
            let items: String = REGIONS.iter().map(|r| format!("<item><regionName>{r}</regionName></item>")).collect();
            format!("<DescribeRegionsResponse {ec2}><requestId>r</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>")
        }
        _ => {
            let Some(_) = listing(&action, 0) else {
                return (axum::http::StatusCode::BAD_REQUEST, format!("the stub does not know {action}"));
            };
            // Page one: the first two entries and a token; page two: the rest.
            let (range, next) = match token.as_deref() {
                None => (0..2, "<nextToken>page-2</nextToken>"),
                Some(_) => (2..PER_KIND, ""),
            };
            let mut set = "";
            let mut items = String::new();
            for n in range {
                let (name, item) = listing(&action, n).expect("known action");
                set = name;
                items.push_str(&format!("<item>{item}</item>"));
            }
            format!("<{action}Response {ec2}><requestId>r</requestId><{set}>{items}</{set}>{next}</{action}Response>")
        }
    };
    (axum::http::StatusCode::OK, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_every_listing_arrives_once_and_throttling_is_retried() {
    let calls = Calls::default();
    let app = axum::Router::new().fallback(answer).with_state(Arc::clone(&calls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Credentials the default way. This binary has one test: nothing else reads the
    // environment while they are set.
    std::env::set_var("AWS_ACCESS_KEY_ID", "stub");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "stub");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let source = AwsSource { endpoint_url: Some(endpoint), page_size: 2, ..AwsSource::new("stub") };
    let board = Arc::new(StatusBoard::default());
    let (events, mut received) = mpsc::channel(16);
    let scrape = tokio::spawn(run_account(source, Mode::Once, events, Arc::clone(&board), Default::default()));
    let mut resources: BTreeMap<(String, &str), Vec<String>> = BTreeMap::new();
    let mut ended = BTreeSet::new();
    let mut announced = Vec::new();
    let mut instances = Vec::new();
    while let Some(event) = received.recv().await {
        match event {
            Event::Account { account, regions } => announced.push((account.to_string(), regions)),
            Event::ScrapeBegin { .. } => {}
            Event::Resource { region, resource, .. } => {
                if resource.kind == "AWS::EC2::Instance" {
                    instances.push(resource.document.clone());
                }
                resources.entry((region.to_string(), resource.kind)).or_default().push(resource.id);
            }
            Event::ScrapeEnd { region, .. } => {
                ended.insert(region.to_string());
            }
        }
    }
    scrape.await.unwrap();

    let regions: Vec<String> = REGIONS.map(String::from).to_vec();
    assert_eq!(announced, vec![(ACCOUNT.to_owned(), regions.clone())], "the enabled regions, from DescribeRegions");
    assert_eq!(ended, regions.iter().cloned().collect(), "both regions scraped to the end");
    for region in &regions {
        for kind in graphd_scrape_aws::KINDS {
            let ids = resources.get(&(region.clone(), kind)).cloned().unwrap_or_default();
            assert_eq!(ids.len(), PER_KIND, "{region} {kind}: {ids:?}");
            assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), PER_KIND, "no {kind} twice: {ids:?}");
        }
    }
    // The status checks of the third instance came on the second page too.
    let checked = instances.iter().filter(|i| i["InstanceStatus"]["Status"] == "ok").count();
    assert_eq!(checked, PER_KIND * REGIONS.len(), "{instances:?}");
    assert!(instances.iter().any(|i| i["SystemStatus"]["Status"] == "impaired"));

    let calls = calls.lock().unwrap();
    let volume_calls = calls.iter().filter(|(r, a, _)| r == "stub-east-1" && a == "DescribeVolumes").count();
    assert_eq!(volume_calls, 3, "throttled, retried, then the second page: {calls:?}");
    for row in board.rows() {
        let status = row.status.snapshot();
        assert_eq!((status.errors, status.syncing), (0, 0), "{}: {status:?}", row.name);
    }
    let names: Vec<String> = board.rows().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["stub", "stub/stub-east-1", "stub/stub-west-1"]);
}
