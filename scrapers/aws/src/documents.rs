//! EC2 resources as item documents, in the EC2 API's own shapes and names (as
//! `aws ec2 describe-*` prints them), so that link and health rules read the fields a user
//! knows. Only what describes the resource is kept; fields absent from a response are left out.

use aws_sdk_ec2::types::{
    GroupIdentifier, Image, Instance, InstanceStatus, IpPermission, NetworkInterface, SecurityGroup, Subnet, Tag,
    Volume, Vpc,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A JSON object of the fields that have a value.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let map: Map<String, Value> =
        fields.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))).collect();
    Value::Object(map)
}

fn text(value: Option<&str>) -> Option<Value> {
    value.map(|v| Value::String(v.to_owned()))
}

fn number(value: Option<i32>) -> Option<Value> {
    value.map(Value::from)
}

fn flag(value: Option<bool>) -> Option<Value> {
    value.map(Value::Bool)
}

fn time(value: Option<&DateTime>) -> Option<Value> {
    value.and_then(|t| t.fmt(Format::DateTime).ok()).map(Value::String)
}

fn list<T>(values: &[T], each: impl Fn(&T) -> Value) -> Option<Value> {
    (!values.is_empty()).then(|| Value::Array(values.iter().map(each).collect()))
}

fn tags(values: &[Tag]) -> Option<Value> {
    list(values, |t| object([("Key", text(t.key())), ("Value", text(t.value()))]))
}

fn groups(values: &[GroupIdentifier]) -> Option<Value> {
    list(values, |g| object([("GroupId", text(g.group_id())), ("GroupName", text(g.group_name()))]))
}

/// Tags as labels.
pub fn labels(values: &[Tag]) -> BTreeMap<String, String> {
    values.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// The `Name` tag, the name the console shows, or else the resource id.
pub fn name(values: &[Tag], id: &str) -> String {
    values
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(Tag::value)
        .filter(|n| !n.is_empty())
        .unwrap_or(id)
        .to_owned()
}

pub fn vpc(v: &Vpc) -> Value {
    object([
        ("VpcId", text(v.vpc_id())),
        ("OwnerId", text(v.owner_id())),
        ("State", text(v.state().map(|s| s.as_str()))),
        ("CidrBlock", text(v.cidr_block())),
        ("IsDefault", flag(v.is_default())),
        ("DhcpOptionsId", text(v.dhcp_options_id())),
        ("InstanceTenancy", text(v.instance_tenancy().map(|t| t.as_str()))),
        ("Tags", tags(v.tags())),
    ])
}

pub fn subnet(s: &Subnet) -> Value {
    object([
        ("SubnetId", text(s.subnet_id())),
        ("VpcId", text(s.vpc_id())),
        ("OwnerId", text(s.owner_id())),
        ("State", text(s.state().map(|s| s.as_str()))),
        ("CidrBlock", text(s.cidr_block())),
        ("AvailabilityZone", text(s.availability_zone())),
        ("AvailableIpAddressCount", number(s.available_ip_address_count())),
        ("DefaultForAz", flag(s.default_for_az())),
        ("MapPublicIpOnLaunch", flag(s.map_public_ip_on_launch())),
        ("Tags", tags(s.tags())),
    ])
}

fn permission(p: &IpPermission) -> Value {
    object([
        ("IpProtocol", text(p.ip_protocol())),
        ("FromPort", number(p.from_port())),
        ("ToPort", number(p.to_port())),
        (
            "UserIdGroupPairs",
            list(p.user_id_group_pairs(), |pair| {
                object([
                    ("GroupId", text(pair.group_id())),
                    ("UserId", text(pair.user_id())),
                    ("VpcId", text(pair.vpc_id())),
                    ("Description", text(pair.description())),
                ])
            }),
        ),
        (
            "IpRanges",
            list(p.ip_ranges(), |r| object([("CidrIp", text(r.cidr_ip())), ("Description", text(r.description()))])),
        ),
        (
            "Ipv6Ranges",
            list(p.ipv6_ranges(), |r| {
                object([("CidrIpv6", text(r.cidr_ipv6())), ("Description", text(r.description()))])
            }),
        ),
        ("PrefixListIds", list(p.prefix_list_ids(), |r| object([("PrefixListId", text(r.prefix_list_id()))]))),
    ])
}

pub fn security_group(g: &SecurityGroup) -> Value {
    object([
        ("GroupId", text(g.group_id())),
        ("GroupName", text(g.group_name())),
        ("Description", text(g.description())),
        ("VpcId", text(g.vpc_id())),
        ("OwnerId", text(g.owner_id())),
        ("IpPermissions", list(g.ip_permissions(), permission)),
        ("IpPermissionsEgress", list(g.ip_permissions_egress(), permission)),
        ("Tags", tags(g.tags())),
    ])
}

/// An instance, with the outcome of its status checks (from DescribeInstanceStatus) where
/// there is one.
pub fn instance(i: &Instance, checks: Option<&InstanceStatus>) -> Value {
    let summary = |s: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
        s.map(|s| object([("Status", text(s.status().map(|v| v.as_str())))]))
    };
    object([
        ("InstanceId", text(i.instance_id())),
        ("InstanceType", text(i.instance_type().map(|t| t.as_str()))),
        ("ImageId", text(i.image_id())),
        (
            "State",
            i.state().map(|s| object([("Code", number(s.code())), ("Name", text(s.name().map(|n| n.as_str())))])),
        ),
        ("StateReason", i.state_reason().map(|r| object([("Code", text(r.code())), ("Message", text(r.message()))]))),
        ("StateTransitionReason", text(i.state_transition_reason()).filter(|v| v != "")),
        ("LaunchTime", time(i.launch_time())),
        ("Placement", i.placement().map(|p| object([("AvailabilityZone", text(p.availability_zone()))]))),
        ("SubnetId", text(i.subnet_id())),
        ("VpcId", text(i.vpc_id())),
        ("PrivateIpAddress", text(i.private_ip_address())),
        ("PrivateDnsName", text(i.private_dns_name()).filter(|v| v != "")),
        ("PublicIpAddress", text(i.public_ip_address())),
        ("Architecture", text(i.architecture().map(|a| a.as_str()))),
        ("PlatformDetails", text(i.platform_details())),
        ("KeyName", text(i.key_name())),
        (
            "IamInstanceProfile",
            i.iam_instance_profile().map(|p| object([("Arn", text(p.arn())), ("Id", text(p.id()))])),
        ),
        ("SecurityGroups", groups(i.security_groups())),
        (
            "BlockDeviceMappings",
            list(i.block_device_mappings(), |m| {
                object([
                    ("DeviceName", text(m.device_name())),
                    (
                        "Ebs",
                        m.ebs().map(|e| {
                            object([
                                ("VolumeId", text(e.volume_id())),
                                ("Status", text(e.status().map(|s| s.as_str()))),
                                ("AttachTime", time(e.attach_time())),
                                ("DeleteOnTermination", flag(e.delete_on_termination())),
                            ])
                        }),
                    ),
                ])
            }),
        ),
        (
            "NetworkInterfaces",
            list(i.network_interfaces(), |n| {
                object([
                    ("NetworkInterfaceId", text(n.network_interface_id())),
                    ("SubnetId", text(n.subnet_id())),
                    ("PrivateIpAddress", text(n.private_ip_address())),
                    ("Status", text(n.status().map(|s| s.as_str()))),
                ])
            }),
        ),
        ("InstanceStatus", checks.and_then(|c| summary(c.instance_status()))),
        ("SystemStatus", checks.and_then(|c| summary(c.system_status()))),
        ("Tags", tags(i.tags())),
    ])
}

pub fn volume(v: &Volume) -> Value {
    object([
        ("VolumeId", text(v.volume_id())),
        ("VolumeType", text(v.volume_type().map(|t| t.as_str()))),
        ("Size", number(v.size())),
        ("Iops", number(v.iops())),
        ("State", text(v.state().map(|s| s.as_str()))),
        ("AvailabilityZone", text(v.availability_zone())),
        ("CreateTime", time(v.create_time())),
        ("Encrypted", flag(v.encrypted())),
        ("SnapshotId", text(v.snapshot_id()).filter(|v| v != "")),
        (
            "Attachments",
            list(v.attachments(), |a| {
                object([
                    ("InstanceId", text(a.instance_id())),
                    ("Device", text(a.device())),
                    ("State", text(a.state().map(|s| s.as_str()))),
                    ("AttachTime", time(a.attach_time())),
                    ("DeleteOnTermination", flag(a.delete_on_termination())),
                ])
            }),
        ),
        ("Tags", tags(v.tags())),
    ])
}

pub fn network_interface(n: &NetworkInterface) -> Value {
    object([
        ("NetworkInterfaceId", text(n.network_interface_id())),
        ("InterfaceType", text(n.interface_type().map(|t| t.as_str()))),
        ("Status", text(n.status().map(|s| s.as_str()))),
        ("SubnetId", text(n.subnet_id())),
        ("VpcId", text(n.vpc_id())),
        ("AvailabilityZone", text(n.availability_zone())),
        ("Description", text(n.description()).filter(|v| v != "")),
        ("MacAddress", text(n.mac_address())),
        ("PrivateIpAddress", text(n.private_ip_address())),
        ("PrivateDnsName", text(n.private_dns_name())),
        ("RequesterManaged", flag(n.requester_managed())),
        (
            "Attachment",
            n.attachment().map(|a| {
                object([
                    ("AttachmentId", text(a.attachment_id())),
                    ("InstanceId", text(a.instance_id())),
                    ("DeviceIndex", number(a.device_index())),
                    ("Status", text(a.status().map(|s| s.as_str()))),
                ])
            }),
        ),
        ("Groups", groups(n.groups())),
        ("Tags", tags(n.tag_set())),
    ])
}

pub fn image(i: &Image) -> Value {
    object([
        ("ImageId", text(i.image_id())),
        ("Name", text(i.name())),
        ("Description", text(i.description())),
        ("State", text(i.state().map(|s| s.as_str()))),
        ("OwnerId", text(i.owner_id())),
        ("CreationDate", text(i.creation_date())),
        ("Architecture", text(i.architecture().map(|a| a.as_str()))),
        ("PlatformDetails", text(i.platform_details())),
        ("RootDeviceType", text(i.root_device_type().map(|t| t.as_str()))),
        ("VirtualizationType", text(i.virtualization_type().map(|t| t.as_str()))),
        ("Tags", tags(i.tags())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{InstanceState, InstanceStateName};

    #[test]
    fn documents_keep_the_api_names_and_leave_out_what_is_absent() {
        let running = Instance::builder()
            .instance_id("i-0abc")
            .subnet_id("subnet-1")
            .state(InstanceState::builder().code(16).name(InstanceStateName::Running).build())
            .tags(Tag::builder().key("Name").value("web-1").build())
            .build();
        assert_eq!(
            instance(&running, None),
            serde_json::json!({
                "InstanceId": "i-0abc",
                "SubnetId": "subnet-1",
                "State": {"Code": 16, "Name": "running"},
                "Tags": [{"Key": "Name", "Value": "web-1"}],
            })
        );
        assert_eq!(name(running.tags(), "i-0abc"), "web-1");
        assert_eq!(name(&[], "i-0abc"), "i-0abc");
    }
}
