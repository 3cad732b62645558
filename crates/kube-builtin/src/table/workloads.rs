//! Rows of the workload controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! Jobs and CronJobs (`printDeployment` ... `printCronJob`).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::fields::{
    age, at, condition, containers_and_images, deleting, int, list, name, object, opt_bool,
    opt_int, opt_string, since, string, time,
};
use super::human_duration;
use super::labels::{format_label_selector, format_labels, selector_string};

/// `spec.replicas` as the server stores it: v1 defaulting turns an absent value into 1.
fn desired_replicas(object: &Value) -> i64 {
    opt_int(object, &["spec", "replicas"]).unwrap_or(1)
}

/// The `Containers` and `Images` cells of a pod template at `spec_path`.
fn template_cells(object: &Value, spec_path: &[&str]) -> [Value; 2] {
    let mut path = spec_path.to_vec();
    path.push("containers");
    let (names, images) = containers_and_images(list(object, &path));
    [json!(names), json!(images)]
}

/// NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn deployment(deploy: &Value, now: Timestamp) -> Vec<Value> {
    let ready = int(deploy, &["status", "readyReplicas"]);
    // Unlike the other workloads, printDeployment prints a nil or empty selector as ""
    // and an unparsable one as <invalid>.
    let selector = selector_string(at(deploy, &["spec", "selector"]))
        .unwrap_or_else(|_| "<invalid>".to_owned());
    let [containers, images] = template_cells(deploy, &["spec", "template", "spec"]);
    vec![
        json!(name(deploy)),
        json!(format!("{ready}/{}", desired_replicas(deploy))),
        json!(int(deploy, &["status", "updatedReplicas"])),
        json!(int(deploy, &["status", "availableReplicas"])),
        json!(age(deploy, now)),
        containers,
        images,
        json!(selector),
    ]
}

/// NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn replica_set(rs: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(rs, &["spec", "template", "spec"]);
    vec![
        json!(name(rs)),
        json!(desired_replicas(rs)),
        json!(int(rs, &["status", "replicas"])),
        json!(int(rs, &["status", "readyReplicas"])),
        json!(age(rs, now)),
        containers,
        images,
        json!(format_label_selector(at(rs, &["spec", "selector"]))),
    ]
}

/// NAME READY AGE | CONTAINERS IMAGES.
pub(super) fn stateful_set(sts: &Value, now: Timestamp) -> Vec<Value> {
    let ready = int(sts, &["status", "readyReplicas"]);
    let [containers, images] = template_cells(sts, &["spec", "template", "spec"]);
    vec![
        json!(name(sts)),
        json!(format!("{ready}/{}", desired_replicas(sts))),
        json!(age(sts, now)),
        containers,
        images,
    ]
}

/// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE
/// | CONTAINERS IMAGES SELECTOR.
pub(super) fn daemon_set(ds: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(ds, &["spec", "template", "spec"]);
    vec![
        json!(name(ds)),
        json!(int(ds, &["status", "desiredNumberScheduled"])),
        json!(int(ds, &["status", "currentNumberScheduled"])),
        json!(int(ds, &["status", "numberReady"])),
        json!(int(ds, &["status", "updatedNumberScheduled"])),
        json!(int(ds, &["status", "numberAvailable"])),
        json!(format_labels(object(
            ds,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        json!(age(ds, now)),
        containers,
        images,
        json!(format_label_selector(at(ds, &["spec", "selector"]))),
    ]
}

/// `hasJobCondition`: the first condition of that type decides.
fn has_job_condition(job: &Value, kind: &str) -> bool {
    condition(list(job, &["status", "conditions"]), kind)
        .is_some_and(|c| string(c, &["status"]) == "True")
}

/// NAME STATUS COMPLETIONS DURATION AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn job(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(job, &["status", "succeeded"]);
    let completions = match opt_int(job, &["spec", "completions"]) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match opt_int(job, &["spec", "parallelism"]).unwrap_or(0) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    // A job that has not started has no duration; a running one counts up to now.
    let duration = match (
        time(job, &["status", "startTime"]),
        time(job, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(start, now),
        (Some(start), Some(end)) => human_duration(start, end),
    };
    let status = if has_job_condition(job, "Complete") {
        "Complete"
    } else if has_job_condition(job, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if has_job_condition(job, "Suspended") {
        "Suspended"
    } else if has_job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let [containers, images] = template_cells(job, &["spec", "template", "spec"]);
    vec![
        json!(name(job)),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(job, now)),
        containers,
        images,
        json!(format_label_selector(at(job, &["spec", "selector"]))),
    ]
}

/// NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn cron_job(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match time(cj, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None => "<none>".to_owned(),
    };
    // `printBoolPtr`: the boolean column carries strings.
    let suspend = match opt_bool(cj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let [containers, images] =
        template_cells(cj, &["spec", "jobTemplate", "spec", "template", "spec"]);
    vec![
        json!(name(cj)),
        json!(string(cj, &["spec", "schedule"])),
        json!(opt_string(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        json!(suspend),
        json!(list(cj, &["status", "active"]).len()),
        json!(last_schedule),
        json!(age(cj, now)),
        containers,
        images,
        json!(format_label_selector(at(
            cj,
            &["spec", "jobTemplate", "spec", "selector"]
        ))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::{now, parse};

    #[test]
    fn deployment_cells() {
        let deploy = parse(include_str!("../testdata/deployment.json"));
        assert_eq!(
            deployment(&deploy, now()),
            [
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("12d"),
                json!("nginx,log-shipper"),
                json!("nginx:1.27,fluent/fluent-bit:3.0"),
                json!("app=web,tier in (frontend)"),
            ]
        );
        let mut bare = deploy.clone();
        bare["spec"]["selector"] = json!({});
        bare["spec"].as_object_mut().unwrap().remove("replicas");
        let cells = deployment(&bare, now());
        assert_eq!((&cells[1], &cells[7]), (&json!("2/1"), &json!("")));
        bare["spec"]["selector"] = json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]});
        assert_eq!(deployment(&bare, now())[7], "<invalid>");
    }

    #[test]
    fn replica_set_cells() {
        let rs = parse(include_str!("../testdata/replicaset.json"));
        assert_eq!(
            replica_set(&rs, now()),
            [
                json!("web-7d4b9c8f6d"),
                json!(3),
                json!(3),
                json!(2),
                json!("12d"),
                json!("nginx"),
                json!("nginx:1.27"),
                json!("app=web,pod-template-hash=7d4b9c8f6d"),
            ]
        );
    }

    #[test]
    fn stateful_set_cells() {
        let sts = parse(include_str!("../testdata/statefulset.json"));
        assert_eq!(
            stateful_set(&sts, now()),
            [
                json!("db"),
                json!("1/3"),
                json!("45d"),
                json!("postgres"),
                json!("postgres:16")
            ]
        );
    }

    #[test]
    fn daemon_set_cells() {
        let ds = parse(include_str!("../testdata/daemonset.json"));
        assert_eq!(
            daemon_set(&ds, now()),
            [
                json!("node-exporter"),
                json!(4),
                json!(4),
                json!(3),
                json!(4),
                json!(3),
                json!("kubernetes.io/os=linux"),
                json!("2y30d"),
                json!("node-exporter"),
                json!("quay.io/prometheus/node-exporter:v1.8.0"),
                json!("app.kubernetes.io/name=node-exporter"),
            ]
        );
        let mut any_node = ds.clone();
        any_node["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("nodeSelector");
        assert_eq!(daemon_set(&any_node, now())[6], "<none>");
    }

    #[test]
    fn job_cells() {
        let complete = parse(include_str!("../testdata/job-complete.json"));
        assert_eq!(
            job(&complete, now()),
            [
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("2m3s"),
                json!("3h"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=6b0c5a57-3a55-4b1c-9c38-0fba3a0e3c11"),
            ]
        );

        let mut running = complete.clone();
        running["status"] = json!({"startTime": "2025-05-01T11:55:00Z", "active": 2});
        running["spec"]
            .as_object_mut()
            .unwrap()
            .remove("completions");
        running["spec"]["parallelism"] = json!(2);
        let cells = job(&running, now());
        assert_eq!(cells[1..4], ["Running", "0/1 of 2", "5m"]);

        let mut pending = running.clone();
        pending["status"] = json!({});
        pending["spec"]["parallelism"] = json!(1);
        assert_eq!(job(&pending, now())[1..4], ["Running", "0/1", ""]);

        let mut suspended = pending.clone();
        suspended["status"]["conditions"] = json!([{"type": "Suspended", "status": "True"}]);
        assert_eq!(job(&suspended, now())[1], "Suspended");
        suspended["metadata"]["deletionTimestamp"] = json!("2025-05-01T11:59:00Z");
        assert_eq!(job(&suspended, now())[1], "Terminating");

        let mut failed = complete.clone();
        failed["status"]["conditions"] = json!([
            {"type": "FailureTarget", "status": "True"},
            {"type": "Failed", "status": "True"}
        ]);
        assert_eq!(job(&failed, now())[1], "Failed");
        failed["status"]["conditions"] = json!([{"type": "FailureTarget", "status": "True"}]);
        assert_eq!(job(&failed, now())[1], "FailureTarget");
    }

    #[test]
    fn cron_job_cells() {
        let cj = parse(include_str!("../testdata/cronjob.json"));
        assert_eq!(
            cron_job(&cj, now()),
            [
                json!("nightly-backup"),
                json!("0 2 * * *"),
                json!("Europe/Berlin"),
                json!("False"),
                json!(1),
                json!("10h"),
                json!("60d"),
                json!("backup"),
                json!("restic/restic:0.17.0"),
                json!("<none>"),
            ]
        );
        let mut fresh = cj.clone();
        fresh["spec"].as_object_mut().unwrap().remove("timeZone");
        fresh["spec"].as_object_mut().unwrap().remove("suspend");
        fresh["status"] = json!({});
        let cells = cron_job(&fresh, now());
        assert_eq!(
            (&cells[2], &cells[3], &cells[4], &cells[5]),
            (
                &json!("<none>"),
                &json!("<unset>"),
                &json!(0),
                &json!("<none>")
            )
        );
    }
}
