//! The Pod row: kube's `printPod`, the most involved printer, whose STATUS column is what
//! people read first in `kubectl get pods`.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::fields::{
    at, boolean, condition, deleting, int, list, name, opt_bool, present, since, string, time,
};

/// The pod reason the node lifecycle controller sets on pods of unreachable nodes
/// (`node.NodeUnreachablePodReason`).
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

/// NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED-NODE READINESS-GATES.
pub(super) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = list(pod, &["spec", "initContainers"]);
    let is_restartable_init = |container: &str| {
        init_specs.iter().any(|spec| {
            string(spec, &["name"]) == container && string(spec, &["restartPolicy"]) == "Always"
        })
    };
    let conditions = list(pod, &["status", "conditions"]);

    let mut restarts: i64 = 0;
    let mut restartable_init_restarts: i64 = 0;
    // Sidecars (restartable init containers) count as containers of the pod.
    let total_containers = list(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|spec| string(spec, &["restartPolicy"]) == "Always")
            .count();
    let mut ready_containers: usize = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_init_restart: Option<Timestamp> = None;

    let phase = string(pod, &["status", "phase"]);
    let mut reason = match string(pod, &["status", "reason"]) {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    if conditions.iter().any(|c| {
        string(c, &["type"]) == "PodScheduled" && string(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_owned();
    }

    // Init containers run in order; the first one not done yet decides the status.
    let mut initializing = false;
    for (i, status) in list(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let restart_count = int(status, &["restartCount"]);
        restarts += restart_count;
        let finished = time(status, &["lastState", "terminated", "finishedAt"]);
        last_restart = latest(last_restart, finished);
        let restartable = is_restartable_init(string(status, &["name"]));
        if restartable {
            restartable_init_restarts += restart_count;
            last_restartable_init_restart = latest(last_restartable_init_restart, finished);
        }

        let terminated = at(status, &["state", "terminated"]);
        let waiting = at(status, &["state", "waiting"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if restartable && opt_bool(status, &["started"]) == Some(true) {
            if boolean(status, &["ready"]) {
                ready_containers += 1;
            }
            continue;
        }
        reason = if let Some(terminated) = terminated {
            match string(terminated, &["reason"]) {
                "" if int(terminated, &["signal"]) != 0 => {
                    format!("Init:Signal:{}", int(terminated, &["signal"]))
                }
                "" => format!("Init:ExitCode:{}", int(terminated, &["exitCode"])),
                r => format!("Init:{r}"),
            }
        } else if let Some(r) = waiting
            .map(|w| string(w, &["reason"]))
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    let initialized =
        condition(conditions, "Initialized").is_some_and(|c| string(c, &["status"]) == "True");
    if !initializing || initialized {
        // Once initialized, only sidecars' restarts still count among init containers.
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        // Walked backwards so the first container's state has the last word.
        for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(status, &["restartCount"]);
            last_restart = latest(
                last_restart,
                time(status, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting_reason = string(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(terminated) = terminated {
                reason = match string(terminated, &["reason"]) {
                    "" if int(terminated, &["signal"]) != 0 => {
                        format!("Signal:{}", int(terminated, &["signal"]))
                    }
                    "" => format!("ExitCode:{}", int(terminated, &["exitCode"])),
                    r => r.to_owned(),
                };
            } else if boolean(status, &["ready"]) && present(status, &["state", "running"]) {
                has_running = true;
                ready_containers += 1;
            }
        }
        // A completed container next to a running one does not make the pod Completed.
        if reason == "Completed" && has_running {
            let ready = conditions
                .iter()
                .any(|c| string(c, &["type"]) == "Ready" && string(c, &["status"]) == "True");
            reason = if ready { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if deleting(pod) && string(pod, &["status", "reason"]) == NODE_UNREACHABLE_REASON {
        reason = "Unknown".to_owned();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    // The internal PodIPs list starts with status.podIP whenever that is set.
    let pod_ip = match string(pod, &["status", "podIP"]) {
        "" => list(pod, &["status", "podIPs"])
            .first()
            .map_or("", |ip| string(ip, &["ip"])),
        ip => ip,
    };
    let gates = list(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let passing = gates
            .iter()
            .filter(|gate| {
                condition(conditions, string(gate, &["conditionType"]))
                    .is_some_and(|c| string(c, &["status"]) == "True")
            })
            .count();
        format!("{passing}/{}", gates.len())
    };

    vec![
        json!(name(pod)),
        json!(format!("{ready_containers}/{total_containers}")),
        json!(reason),
        json!(restarts_text),
        json!(super::fields::age(pod, now)),
        json!(or_none(pod_ip)),
        json!(or_none(string(pod, &["spec", "nodeName"]))),
        json!(or_none(string(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ]
}

/// Row conditions kube attaches to finished pods (`podSuccessConditions`,
/// `podFailedConditions`).
pub(super) fn row_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match string(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

fn latest(current: Option<Timestamp>, candidate: Option<Timestamp>) -> Option<Timestamp> {
    current.max(candidate)
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::{now, parse};

    fn row(fixture: &str) -> Vec<Value> {
        cells(&parse(fixture), now())
    }

    #[test]
    fn running() {
        assert_eq!(
            row(include_str!("../testdata/pod-running.json")),
            [
                "web-7d4b9c8f6d-x2x9k",
                "1/1",
                "Running",
                "0",
                "3d4h",
                "10.244.1.17",
                "worker-1",
                "<none>",
                "<none>"
            ]
        );
    }

    #[test]
    fn pending_with_waiting_reason() {
        let cells = row(include_str!("../testdata/pod-pending-image-pull.json"));
        assert_eq!(cells[1..5], ["0/2", "ImagePullBackOff", "0", "95s"]);
        assert_eq!(cells[5..9], ["<none>", "worker-2", "<none>", "<none>"]);
    }

    #[test]
    fn unscheduled_and_gated() {
        let cells = row(include_str!("../testdata/pod-scheduling-gated.json"));
        assert_eq!(cells[1..5], ["0/1", "SchedulingGated", "0", "10m"]);
        assert_eq!(cells[6], "<none>");
    }

    #[test]
    fn completed() {
        let pod = parse(include_str!("../testdata/pod-completed.json"));
        let cells = cells(&pod, now());
        assert_eq!(cells[1..5], ["0/1", "Completed", "0", "2d"]);
        assert_eq!(
            row_conditions(&pod),
            Some(json!([{
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully."
            }]))
        );
    }

    #[test]
    fn crash_looping() {
        // Restarts count both containers; the latest restart (4m30s ago) is shown.
        let cells = row(include_str!("../testdata/pod-crashloop.json"));
        assert_eq!(
            cells[1..5],
            ["1/2", "CrashLoopBackOff", "17 (4m30s ago)", "26h"]
        );
    }

    #[test]
    fn init_containers() {
        let running = row(include_str!("../testdata/pod-init-running.json"));
        assert_eq!(running[1..5], ["0/1", "Init:1/2", "0", "40s"]);

        let crashing = row(include_str!("../testdata/pod-init-crashloop.json"));
        assert_eq!(
            crashing[1..5],
            ["0/1", "Init:CrashLoopBackOff", "4 (60s ago)", "5m12s"]
        );

        let mut failed = parse(include_str!("../testdata/pod-init-error.json"));
        assert_eq!(
            cells(&failed, now())[1..5],
            ["0/1", "Init:Error", "0", "3m"]
        );
        let terminated = &mut failed["status"]["initContainerStatuses"][0]["state"]["terminated"];
        terminated.as_object_mut().unwrap().remove("reason");
        terminated["exitCode"] = json!(2);
        assert_eq!(cells(&failed, now())[2], "Init:ExitCode:2");
        failed["status"]["initContainerStatuses"][0]["state"]["terminated"]["signal"] = json!(15);
        assert_eq!(cells(&failed, now())[2], "Init:Signal:15");
    }

    #[test]
    fn sidecar_counts_as_container() {
        // A started restartable init container is ready and counted; its restarts
        // still show once the pod is initialized.
        let cells = row(include_str!("../testdata/pod-sidecar.json"));
        assert_eq!(cells[1..5], ["2/2", "Running", "1 (3h ago)", "2d5h"]);
    }

    #[test]
    fn terminating_and_node_lost() {
        let pod = parse(include_str!("../testdata/pod-terminating.json"));
        assert_eq!(cells(&pod, now())[2], "Terminating");
        assert_eq!(row_conditions(&pod), None);

        let mut lost = pod.clone();
        lost["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells(&lost, now())[2], "Unknown");

        // A finished pod being deleted keeps its final status.
        let mut done = parse(include_str!("../testdata/pod-completed.json"));
        done["metadata"]["deletionTimestamp"] = json!("2025-05-01T11:59:00Z");
        assert_eq!(cells(&done, now())[2], "Completed");
    }

    #[test]
    fn exit_codes_and_signals() {
        let mut pod = parse(include_str!("../testdata/pod-completed.json"));
        pod["status"]["phase"] = json!("Failed");
        pod["status"]["containerStatuses"][0]["state"]["terminated"] =
            json!({"exitCode": 137, "startedAt": "2025-04-29T11:00:00Z"});
        assert_eq!(cells(&pod, now())[2], "ExitCode:137");
        assert_eq!(
            row_conditions(&pod).map(|c| c[0]["reason"].clone()),
            Some(json!("Failed"))
        );
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["signal"] = json!(9);
        assert_eq!(cells(&pod, now())[2], "Signal:9");
    }

    #[test]
    fn completed_next_to_running() {
        let mut pod = parse(include_str!("../testdata/pod-running.json"));
        let running = pod["status"]["containerStatuses"][0].clone();
        let mut done = running.clone();
        done["name"] = json!("migrate");
        done["ready"] = json!(false);
        done["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        pod["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"name": "migrate", "image": "busybox"}));
        pod["status"]["containerStatuses"] = json!([done, running]);
        assert_eq!(cells(&pod, now())[1..3], ["1/2", "Running"]);

        pod["status"]["conditions"] = json!([]);
        assert_eq!(cells(&pod, now())[2], "NotReady");
    }

    #[test]
    fn readiness_gates_and_pod_ips() {
        let mut pod = parse(include_str!("../testdata/pod-running.json"));
        pod["spec"]["readinessGates"] = json!([
            {"conditionType": "example.com/lb-ready"},
            {"conditionType": "example.com/feature"}
        ]);
        pod["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "example.com/lb-ready", "status": "True"}));
        pod["status"]["nominatedNodeName"] = json!("worker-9");
        pod["status"].as_object_mut().unwrap().remove("podIP");
        pod["status"]["podIPs"] = json!([{"ip": "fd00::17"}, {"ip": "10.244.1.17"}]);
        let cells = cells(&pod, now());
        assert_eq!(cells[5..9], ["fd00::17", "worker-1", "worker-9", "1/2"]);
    }
}
