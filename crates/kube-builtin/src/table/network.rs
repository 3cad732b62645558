//! Rows of the objects that route traffic: Services and Ingresses (`printService`,
//! `printIngress`).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::fields::{age, int, list, name, object, opt_string, string};
use super::labels::format_labels;

/// The load-balancer ingress points, IP preferred over hostname, deduplicated and sorted
/// (`loadBalancerStatusStringer`). The server prints with `wide` set, so the list is never
/// clipped to 16 characters here; kubectl does no clipping of its own.
fn load_balancer_points(status: &[Value]) -> Vec<&str> {
    let points: BTreeSet<&str> = status
        .iter()
        .filter_map(
            |ingress| match (string(ingress, &["ip"]), string(ingress, &["hostname"])) {
                ("", "") => None,
                ("", hostname) => Some(hostname),
                (ip, _) => Some(ip),
            },
        )
        .collect();
    points.into_iter().collect()
}

/// `getServiceExternalIP`
fn service_external_ip(svc: &Value) -> String {
    let external_ips: Vec<&str> = list(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match string(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut points =
                load_balancer_points(list(svc, &["status", "loadBalancer", "ingress"]));
            match (points.is_empty(), external_ips.is_empty()) {
                (true, true) => "<pending>".to_owned(),
                _ => {
                    points.extend(external_ips);
                    points.join(",")
                }
            }
        }
        "ExternalName" => string(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// `makePortString`: `port/protocol`, or `port:nodePort/protocol` when a node port is set.
fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = list(svc, &["spec", "ports"])
        .iter()
        .map(|port| {
            let number = int(port, &["port"]);
            let protocol = string(port, &["protocol"]);
            match int(port, &["nodePort"]) {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    }
}

/// NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR.
pub(super) fn service(svc: &Value, now: Timestamp) -> Vec<Value> {
    // kube prints the first of the internal ClusterIPs, which conversion fills from the
    // singular spec.clusterIP when an (older) object only carries that.
    let cluster_ip = match list(svc, &["spec", "clusterIPs"]).first() {
        Some(first) => first.as_str().unwrap_or_default(),
        None => match string(svc, &["spec", "clusterIP"]) {
            "" => "<none>",
            ip => ip,
        },
    };
    vec![
        json!(name(svc)),
        json!(string(svc, &["spec", "type"])),
        json!(cluster_ip),
        json!(service_external_ip(svc)),
        json!(service_ports(svc)),
        json!(age(svc, now)),
        json!(format_labels(object(svc, &["spec", "selector"]))),
    ]
}

/// `formatHosts`: the first three hosts named by rules, then `+ N more...` counting the
/// rules left (named or not); `*` when no rule names a host.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = string(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

/// NAME CLASS HOSTS ADDRESS PORTS AGE.
pub(super) fn ingress(ing: &Value, now: Timestamp) -> Vec<Value> {
    let address = load_balancer_points(list(ing, &["status", "loadBalancer", "ingress"])).join(",");
    let ports = if list(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(name(ing)),
        json!(opt_string(ing, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        json!(ingress_hosts(list(ing, &["spec", "rules"]))),
        json!(address),
        json!(ports),
        json!(age(ing, now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::{now, parse};

    fn services() -> Vec<Value> {
        let list = parse(include_str!("../testdata/services.json"));
        list["items"].as_array().cloned().unwrap_or_default()
    }

    fn service_row(wanted: &str) -> Vec<Value> {
        let svc = services()
            .into_iter()
            .find(|s| s["metadata"]["name"] == wanted)
            .unwrap_or_else(|| panic!("no service {wanted}"));
        service(&svc, now())
    }

    #[test]
    fn cluster_ip_service() {
        assert_eq!(
            service_row("kubernetes"),
            [
                "kubernetes",
                "ClusterIP",
                "10.96.0.1",
                "<none>",
                "443/TCP",
                "90d",
                "<none>"
            ]
        );
        assert_eq!(
            service_row("web"),
            [
                "web",
                "ClusterIP",
                "10.96.12.34",
                "<none>",
                "80/TCP,443/TCP",
                "12d",
                "app=web"
            ]
        );
    }

    #[test]
    fn headless_service() {
        assert_eq!(
            service_row("db-headless")[1..5],
            ["ClusterIP", "None", "<none>", "5432/TCP"]
        );
    }

    #[test]
    fn node_port_service() {
        assert_eq!(
            service_row("web-nodeport")[1..5],
            [
                "NodePort",
                "10.96.80.8",
                "192.0.2.10",
                "80:30080/TCP,53:30053/UDP"
            ]
        );
    }

    #[test]
    fn load_balancer_services() {
        assert_eq!(
            service_row("web-lb")[1..5],
            [
                "LoadBalancer",
                "10.96.200.1",
                "198.51.100.7,a1b2c3-1234567890.eu-west-1.elb.amazonaws.com",
                "80:31380/TCP"
            ]
        );
        assert_eq!(
            service_row("web-lb-pending")[1..5],
            ["LoadBalancer", "10.96.200.2", "<pending>", "80:31381/TCP"]
        );
    }

    #[test]
    fn external_name_service() {
        assert_eq!(
            service_row("upstream")[1..5],
            ["ExternalName", "<none>", "api.example.com", "<none>"]
        );
    }

    #[test]
    fn ingresses() {
        let ing = parse(include_str!("../testdata/ingress.json"));
        assert_eq!(
            ingress(&ing, now()),
            [
                "web",
                "nginx",
                "shop.example.com,api.example.com,admin.example.com + 1 more...",
                "203.0.113.9",
                "80, 443",
                "5d"
            ]
        );
        let mut bare = ing.clone();
        bare["spec"] =
            json!({"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}});
        bare["status"] = json!({"loadBalancer": {}});
        assert_eq!(ingress(&bare, now())[1..5], ["<none>", "*", "", "80"]);
    }

    #[test]
    fn ingress_host_list_counts_like_kube() {
        let rules = |hosts: &[&str]| hosts.iter().map(|h| json!({"host": h})).collect::<Vec<_>>();
        assert_eq!(ingress_hosts(&rules(&["a", "", "b", "c"])), "a,b,c");
        // Rules without a host are skipped, but still counted in the remainder.
        assert_eq!(
            ingress_hosts(&rules(&["a", "", "b", "c", "d"])),
            "a,b,c + 2 more..."
        );
        assert_eq!(
            ingress_hosts(&rules(&["a", "b", "c", ""])),
            "a,b,c + 1 more..."
        );
        assert_eq!(ingress_hosts(&rules(&["", ""])), "*");
        assert_eq!(ingress_hosts(&[]), "*");
    }
}
