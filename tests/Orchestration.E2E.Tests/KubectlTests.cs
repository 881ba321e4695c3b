using System.Text.Json.Nodes;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>The real kubectl, in several versions, against <c>orch up</c>: what a user does every day.</summary>
[Collection(OrchClusterCollection.Name)]
[Trait("Category", "E2E")]
public sealed class KubectlTests(OrchCluster cluster)
{
    public static TheoryData<string> Versions()
    {
        var data = new TheoryData<string>();
        foreach (var version in Kubectl.Versions)
        {
            data.Add(version);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Apply_of_a_multi_document_file_creates_every_object_and_a_second_apply_changes_nothing(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        var first = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App);
        var second = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App);

        first.ExitCode.Should().Be(0, first.ToString());
        first.Stdout.Should().Contain("configmap/settings created").And.Contain("deployment.apps/web created").And.Contain("service/web created");
        second.ExitCode.Should().Be(0, second.ToString());
        second.Stdout.Should().Contain("configmap/settings unchanged").And.Contain("deployment.apps/web unchanged").And.Contain("service/web unchanged");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Get_prints_every_output_format(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);

        var table = await kubectl.RunAsync($"get deployments -n {ns}");
        var wide = await kubectl.RunAsync($"get deployments -n {ns} -o wide");
        var json = await kubectl.RunAsync($"get deployment web -n {ns} -o json");
        var yaml = await kubectl.RunAsync($"get deployment web -n {ns} -o yaml");
        var name = await kubectl.RunAsync($"get deployments,services,configmaps -n {ns} -o name --field-selector=metadata.name!=kube-root-ca.crt");
        var jsonpath = await kubectl.RunAsync(["get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].image}"]);
        var columns = await kubectl.RunAsync(["get", "services", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,PORT:.spec.ports[0].port"]);
        var services = await kubectl.RunAsync($"get services -n {ns}");

        table.Stdout.Should().MatchRegex(@"NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE").And.MatchRegex(@"web\s+0/2\s+[02]\s+0\s+\d+s", "no node runs the pods; the Deployment controller may have made its ReplicaSet already");
        wide.Stdout.Should().MatchRegex(@"CONTAINERS\s+IMAGES\s+SELECTOR").And.MatchRegex(@"httpd\s+busybox\s+app=web");
        JsonNode.Parse(json.Stdout)!["spec"]!["strategy"]!["type"]!.ToString().Should().Be("RollingUpdate", "the server fills in Kubernetes's defaults");
        yaml.Stdout.Should().Contain("kind: Deployment").And.Contain("replicas: 2");
        name.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().BeEquivalentTo("deployment.apps/web", "service/web", "configmap/settings");
        jsonpath.Stdout.Should().Be("2/busybox");
        columns.Stdout.Should().MatchRegex(@"NAME\s+PORT\s*\nweb\s+80");
        services.Stdout.Should().MatchRegex(@"NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE").And.MatchRegex(@"web\s+ClusterIP\s+\S+\s+<none>\s+80/TCP");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Describe_label_annotate_scale_and_patches_change_the_object(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);

        (await kubectl.RunAsync($"label deployment web tier=front -n {ns}")).Stdout.Should().Contain("labeled");
        (await kubectl.RunAsync($"annotate deployment web owner=team-a -n {ns}")).Stdout.Should().Contain("deployment.apps/web annotate", "kubectl 1.27 prints \"annotate\", later versions \"annotated\"");
        (await kubectl.RunAsync($"scale deployment web --replicas=5 -n {ns}")).Stdout.Should().Contain("scaled");
        var strategic = await kubectl.RunAsync(["patch", "deployment", "web", "-n", ns, "-p", """{"spec":{"template":{"spec":{"containers":[{"name":"httpd","env":[{"name":"EXTRA","value":"1"}]}]}}}}"""]);
        var merge = await kubectl.RunAsync(["patch", "deployment", "web", "-n", ns, "--type=merge", "-p", """{"metadata":{"labels":{"patched":"merge"}}}"""]);
        var json = await kubectl.RunAsync(["patch", "deployment", "web", "-n", ns, "--type=json", "-p", """[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"""]);
        var describe = await kubectl.RunAsync($"describe deployment web -n {ns}");
        var result = JsonNode.Parse((await kubectl.RunAsync($"get deployment web -n {ns} -o json")).Stdout)!;

        strategic.ExitCode.Should().Be(0, strategic.ToString());
        merge.ExitCode.Should().Be(0, merge.ToString());
        json.ExitCode.Should().Be(0, json.ToString());
        result["metadata"]!["labels"]!["tier"]!.ToString().Should().Be("front");
        result["metadata"]!["labels"]!["patched"]!.ToString().Should().Be("merge");
        result["metadata"]!["annotations"]!["owner"]!.ToString().Should().Be("team-a");
        result["spec"]!["replicas"]!.GetValue<int>().Should().Be(5);
        result["spec"]!["revisionHistoryLimit"]!.GetValue<int>().Should().Be(3);
        var env = result["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray().Select(e => e!["name"]!.ToString());
        env.Should().Equal(["MODE", "EXTRA"], "a strategic merge patch merges env entries by name instead of replacing the list");
        describe.ExitCode.Should().Be(0, describe.ToString());
        describe.Stdout.Should().MatchRegex(@"Name:\s+web").And.MatchRegex(@"Replicas:\s+5 desired").And.MatchRegex(@"Image:\s+busybox");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Edit_saves_what_the_editor_changed(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);
        var editor = new Dictionary<string, string> { ["EDITOR"] = "sed -i 's/^  replicas: 2/  replicas: 6/'" };

        var edited = await kubectl.RunAsync(["edit", "deployment", "web", "-n", ns], environment: editor);
        var replicas = await kubectl.RunAsync(["get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}"]);

        edited.ExitCode.Should().Be(0, edited.ToString());
        edited.Stdout.Should().Contain("deployment.apps/web edited");
        replicas.Stdout.Should().Be("6");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Events_are_selected_by_the_object_they_involve(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        foreach (var (name, target) in new[] { ("e1", "web"), ("e2", "db") })
        {
            var evt = $"apiVersion: v1\nkind: Event\nmetadata:\n  name: {name}\ninvolvedObject:\n  kind: Deployment\n  name: {target}\n  namespace: {ns}\nreason: Tested\nmessage: about {target}\ntype: Normal\n";
            (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], evt)).ExitCode.Should().Be(0);
        }

        var selected = await kubectl.RunAsync(["get", "events", "-n", ns, "--field-selector", "involvedObject.name=web"]);

        selected.ExitCode.Should().Be(0, selected.ToString());
        selected.Stdout.Should().MatchRegex(@"LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE").And.Contain("deployment/web").And.Contain("about web").And.NotContain("about db");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Typed_creates_work_whether_kubectl_sends_json_or_protobuf(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = $"typed-{Guid.NewGuid():N}"[..14];

        var created = new[]
        {
            await kubectl.RunAsync($"create namespace {ns}"),
            await kubectl.RunAsync($"create configmap settings -n {ns} --from-literal=mode=fast --from-literal=level=2"),
            await kubectl.RunAsync($"create secret generic creds -n {ns} --from-literal=password=s3cret"),
            await kubectl.RunAsync($"create deployment web -n {ns} --image=busybox --replicas=0 --port=8080"),
            await kubectl.RunAsync($"create service clusterip web -n {ns} --tcp=80:8080"),
            await kubectl.RunAsync($"create serviceaccount robot -n {ns}"),
            await kubectl.RunAsync($"create job once -n {ns} --image=busybox"),
        };
        var config = await kubectl.RunAsync(["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}/{.data.level}"]);
        var secret = await kubectl.RunAsync(["get", "secret", "creds", "-n", ns, "-o", "jsonpath={.data.password}"]);
        var deployment = JsonNode.Parse((await kubectl.RunAsync($"get deployment web -n {ns} -o json")).Stdout)!;
        var service = await kubectl.RunAsync(["get", "service", "web", "-n", ns, "-o", "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort}"]);

        created.Should().AllSatisfy(r => r.ExitCode.Should().Be(0, r.ToString()));
        config.Stdout.Should().Be("fast/2");
        System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(secret.Stdout)).Should().Be("s3cret");
        deployment["spec"]!["replicas"]!.GetValue<int>().Should().Be(0, "an explicit zero survives the protobuf encoding");
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!.GetValue<int>().Should().Be(8080);
        deployment["spec"]!["template"]!["metadata"]!["creationTimestamp"].Should().BeNull("Go's zero time is no time, not 1970");
        service.Stdout.Should().Be("80:8080");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Cascading_delete_follows_owner_references_in_the_background_foreground_or_not_at_all(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        async Task<string> OwnedTreeAsync(string name)
        {
            (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap(name))).ExitCode.Should().Be(0);
            var uid = (await kubectl.RunAsync(["get", "configmap", name, "-n", ns, "-o", "jsonpath={.metadata.uid}"])).Stdout;
            var child = $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-child\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {name}\n    uid: {uid}\n    blockOwnerDeletion: true\n";
            (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], child)).ExitCode.Should().Be(0);
            var childUid = (await kubectl.RunAsync(["get", "configmap", $"{name}-child", "-n", ns, "-o", "jsonpath={.metadata.uid}"])).Stdout;
            var grandchild = $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-grandchild\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {name}-child\n    uid: {childUid}\n";
            (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], grandchild)).ExitCode.Should().Be(0);
            return name;
        }

        async Task<string[]> LeftAsync(string prefix)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                var names = (await kubectl.RunAsync($"get configmaps -n {ns} -o name")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n.StartsWith($"configmap/{prefix}", StringComparison.Ordinal)).ToArray();
                if (names.Length == 0 || DateTime.UtcNow > deadline)
                {
                    return names;
                }

                await Task.Delay(200);
            }
        }

        var background = await kubectl.RunAsync($"delete configmap {await OwnedTreeAsync("bg")} -n {ns}");
        var foreground = await kubectl.RunAsync($"delete configmap {await OwnedTreeAsync("fg")} -n {ns} --cascade=foreground");
        var orphan = await kubectl.RunAsync($"delete configmap {await OwnedTreeAsync("or")} -n {ns} --cascade=orphan");

        background.ExitCode.Should().Be(0, background.ToString());
        (await LeftAsync("bg")).Should().BeEmpty("the garbage collector deletes dependents whose owners are gone");
        foreground.ExitCode.Should().Be(0, foreground.ToString());
        (await kubectl.RunAsync($"get configmaps -n {ns} -o name")).Stdout.Should().NotContain("configmap/fg", "kubectl waited until the owner, deleted last, was gone");
        orphan.ExitCode.Should().Be(0, orphan.ToString());

        // The positive signal: the garbage collector orphans the dependent by removing its owner reference; it stays.
        CommandResult orphans = default!;
        var orphaned = await Eventually.HoldsAsync(
            async () => (orphans = await kubectl.RunAsync(["get", "configmap", "or-child", "-n", ns, "-o", "jsonpath={.metadata.name}:{.metadata.ownerReferences}"])).Stdout is "or-child:" or "or-child:[]",
            200,
            TimeSpan.FromMilliseconds(100));
        orphaned.Should().BeTrue($"orphaned dependents stay, without the reference to their deleted owner: {orphans}");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Deleting_a_namespace_deletes_everything_in_it_and_refuses_new_content_meanwhile(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);
        var held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n";
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], held)).ExitCode.Should().Be(0);

        (await kubectl.RunAsync($"delete namespace {ns} --wait=false")).ExitCode.Should().Be(0);
        var terminating = await kubectl.RunAsync(["get", "namespace", ns, "-o", "jsonpath={.status.phase}"]);
        var refused = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("late"));
        (await kubectl.RunAsync(["patch", "configmap", "held", "-n", ns, "--type=merge", "-p", """{"metadata":{"finalizers":null}}"""])).ExitCode.Should().Be(0);
        var waited = await kubectl.RunAsync($"wait --for=delete namespace/{ns} --timeout=30s");
        var left = await kubectl.RunAsync($"get deployments,services,configmaps -n {ns} -o name --field-selector=metadata.name!=kube-root-ca.crt");

        terminating.Stdout.Should().Be("Terminating");
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Stderr.Should().Contain("because it is being terminated");
        waited.ExitCode.Should().Be(0, waited.ToString());
        left.ExitCode.Should().Be(0, left.ToString());
        left.Stdout.Trim().Should().BeEmpty("the namespace went only after everything in it");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_replica_set_keeps_its_pod_count_and_its_pods_go_with_it(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        const string replicaSet = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: rs\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: rs}\n  template:\n    metadata:\n      labels: {app: rs}\n    spec:\n      containers: [{name: c, image: busybox}]\n";

        async Task<int> PodsAsync(int wanted)
        {
            var count = -1;
            for (var i = 0; i < 100 && count != wanted; i++)
            {
                var pods = await kubectl.RunAsync($"get pods -n {ns} -l app=rs -o name");
                count = pods.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
                if (count != wanted)
                {
                    await Task.Delay(100);
                }
            }

            return count;
        }

        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], replicaSet)).ExitCode.Should().Be(0);
        var created = await PodsAsync(3);
        (await kubectl.RunAsync($"scale replicaset rs --replicas=1 -n {ns}")).ExitCode.Should().Be(0);
        var scaled = await PodsAsync(1);
        var table = await kubectl.RunAsync($"get replicaset rs -n {ns}");
        (await kubectl.RunAsync($"delete replicaset rs -n {ns}")).ExitCode.Should().Be(0);
        var deleted = await PodsAsync(0);

        created.Should().Be(3, "the ReplicaSet controller creates the pods");
        scaled.Should().Be(1);
        table.Stdout.Should().MatchRegex(@"rs\s+1\s+1\s+0\s");
        deleted.Should().Be(0, "its pods go with it");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task The_scheduler_places_pods_on_nodes_and_describe_shows_why_one_fits_nowhere(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var node = $"{ns}-node";
        (await kubectl.RunAsync(["apply", "-f", "-"], $"apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n  labels:\n    test: {ns}\n")).ExitCode.Should().Be(0);
        var status = await kubectl.RunAsync(["patch", "node", node, "--subresource=status", "--type=merge", "-p", """{"status":{"allocatable":{"cpu":"2","memory":"4Gi","pods":"110"}}}"""]);
        status.ExitCode.Should().Be(0, status.ToString());
        var pod = $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: NAME\nspec:\n  nodeSelector:\n    test: {ns}\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: CPU\n";

        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], pod.Replace("NAME", "fits", StringComparison.Ordinal).Replace("CPU", "500m", StringComparison.Ordinal))).ExitCode.Should().Be(0);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], pod.Replace("NAME", "huge", StringComparison.Ordinal).Replace("CPU", "64", StringComparison.Ordinal))).ExitCode.Should().Be(0);
        CommandResult placed = new(1, "", "");
        for (var i = 0; i < 100 && placed.Stdout != node; i++)
        {
            await Task.Delay(100);
            placed = await kubectl.RunAsync(["get", "pod", "fits", "-n", ns, "-o", "jsonpath={.spec.nodeName}"]);
        }

        CommandResult described = new(1, "", "");
        for (var i = 0; i < 100 && !described.Stdout.Contains("FailedScheduling", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            described = await kubectl.RunAsync($"describe pod huge -n {ns}");
        }

        var wide = await kubectl.RunAsync($"get pods -n {ns} -o wide");
        (await kubectl.RunAsync($"delete node {node}")).ExitCode.Should().Be(0);

        placed.Stdout.Should().Be(node);
        wide.Stdout.Should().MatchRegex($@"fits\s+0/1\s+Pending\s+0\s+\S+\s+<none>\s+{node}");
        described.Stdout.Should().Contain("FailedScheduling").And.Contain("Insufficient cpu").And.MatchRegex(@"Status:\s+Pending");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Diff_exits_1_on_a_change_and_0_without_one(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);

        var same = await kubectl.RunAsync(["diff", "-n", ns, "-f", "-"], Manifests.App);
        var changed = await kubectl.RunAsync(["diff", "-n", ns, "-f", "-"], Manifests.App.Replace("replicas: 2", "replicas: 4", StringComparison.Ordinal));

        same.ExitCode.Should().Be(0, same.ToString());
        changed.ExitCode.Should().Be(1, changed.ToString());
        changed.Stdout.Should().Contain("-  replicas: 2").And.Contain("+  replicas: 4");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Server_side_apply_owns_fields_and_a_second_manager_conflicts_unless_it_forces(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var replicas = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 7
            """;

        var applied = await kubectl.RunAsync(["apply", "--server-side", "-n", ns, "-f", "-"], Manifests.App);
        var conflict = await kubectl.RunAsync(["apply", "--server-side", "--field-manager=autoscaler", "-n", ns, "-f", "-"], replicas);
        var forced = await kubectl.RunAsync(["apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-n", ns, "-f", "-"], replicas);
        var result = JsonNode.Parse((await kubectl.RunAsync($"get deployment web -n {ns} -o json --show-managed-fields")).Stdout)!;

        applied.ExitCode.Should().Be(0, applied.ToString());
        applied.Stdout.Should().Contain("deployment.apps/web serverside-applied");
        conflict.ExitCode.Should().Be(1, conflict.ToString());
        conflict.Stderr.Should().Contain("conflict").And.Contain(".spec.replicas");
        forced.ExitCode.Should().Be(0, forced.ToString());
        result["spec"]!["replicas"]!.GetValue<int>().Should().Be(7);
        result["metadata"]!["managedFields"]!.AsArray().Select(m => m!["manager"]!.ToString()).Should().Contain(["kubectl", "autoscaler"]);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Server_dry_run_checks_everything_and_stores_nothing(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        var dryRun = await kubectl.RunAsync(["apply", "--dry-run=server", "-n", ns, "-f", "-"], Manifests.App);
        var invalid = await kubectl.RunAsync(["apply", "--dry-run=server", "-n", ns, "-f", "-"], Manifests.ConfigMap("Bad_Name"));
        var stored = await kubectl.RunAsync($"get deployments,services,configmaps -n {ns} -o name --field-selector=metadata.name!=kube-root-ca.crt");

        dryRun.ExitCode.Should().Be(0, dryRun.ToString());
        dryRun.Stdout.Should().Contain("deployment.apps/web created (server dry run)");
        invalid.ExitCode.Should().Be(1, invalid.ToString());
        stored.ExitCode.Should().Be(0, stored.ToString());
        stored.Stdout.Should().NotContain("web").And.NotContain("settings");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Wait_for_a_condition_and_for_delete(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var crd = Manifests.WidgetDefinition.Replace("widgets.e2e", $"widgets.{ns}", StringComparison.Ordinal).Replace("e2e.example.com", $"{ns}.example.com", StringComparison.Ordinal);
        (await kubectl.RunAsync(["apply", "-f", "-"], crd)).ExitCode.Should().Be(0);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("doomed"))).ExitCode.Should().Be(0);

        var established = await kubectl.RunAsync(["wait", "--for=condition=Established", $"crd/widgets.{ns}.example.com", "--timeout=30s"]);
        var waiter = kubectl.RunAsync(["wait", "--for=delete", "configmap/doomed", "-n", ns, "--timeout=30s"]);
        await Task.Delay(500);
        (await kubectl.RunAsync(["delete", "configmap", "doomed", "-n", ns, "--wait=false"])).ExitCode.Should().Be(0);
        var deleted = await waiter;

        established.ExitCode.Should().Be(0, established.ToString());
        established.Stdout.Should().Contain("condition met");
        deleted.ExitCode.Should().Be(0, deleted.ToString());
        (await kubectl.RunAsync(["delete", "-f", "-"], crd)).ExitCode.Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Get_watch_prints_objects_as_they_are_created(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        // kubectl lists, then watches from the list's resourceVersion: once the sentinel is printed, nothing created later is missed.
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("sentinel"))).ExitCode.Should().Be(0);
        using var watch = kubectl.Start("get", "configmaps", "-n", ns, "-w", "--request-timeout=30s");
        var lines = new List<string>();
        var sawWatched = new TaskCompletionSource();
        var sawSentinel = new TaskCompletionSource();
        watch.OutputDataReceived += (_, e) =>
        {
            lock (lines)
            {
                if (e.Data is not null)
                {
                    lines.Add(e.Data);
                    if (e.Data.StartsWith("watched", StringComparison.Ordinal))
                    {
                        sawWatched.TrySetResult();
                    }

                    if (e.Data.StartsWith("sentinel", StringComparison.Ordinal))
                    {
                        sawSentinel.TrySetResult();
                    }
                }
            }
        };
        watch.BeginOutputReadLine();
        (await Task.WhenAny(sawSentinel.Task, Task.Delay(TimeSpan.FromSeconds(20))) == sawSentinel.Task).Should().BeTrue($"kubectl get -w lists what is there first; it printed: {string.Join('\n', lines)}");

        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("watched"))).ExitCode.Should().Be(0);
        var seen = await Task.WhenAny(sawWatched.Task, Task.Delay(TimeSpan.FromSeconds(20))) == sawWatched.Task;
        watch.Kill();

        seen.Should().BeTrue($"kubectl get -w prints a new object as it is created; it printed: {string.Join('\n', lines)}");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Explain_and_api_resources_describe_the_served_kinds(string binary)
    {
        var kubectl = cluster.Kubectl(binary);

        var explain = await kubectl.RunAsync("explain deployment.spec.replicas");
        var resources = await kubectl.RunAsync("api-resources");
        var wide = await kubectl.RunAsync("api-resources -o wide");

        explain.ExitCode.Should().Be(0, explain.ToString());
        explain.Stdout.Should().Contain("KIND:").And.Contain("Deployment").And.Contain("replicas").And.Contain("integer");
        resources.ExitCode.Should().Be(0, resources.ToString());
        foreach (var (resource, shortName) in new[] { ("pods", "po"), ("deployments", "deploy"), ("services", "svc"), ("namespaces", "ns"), ("configmaps", "cm"), ("statefulsets", "sts"), ("customresourcedefinitions", "crd,crds") })
        {
            resources.Stdout.Should().MatchRegex($@"(?m)^{resource}\s+{shortName}\s");
        }

        wide.Stdout.Should().MatchRegex(@"(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment\s+create,delete,deletecollection,get,list,patch,update,watch\s+all");

        foreach (var resource in new[] { "nodes", "endpoints", "endpointslices", "secrets", "serviceaccounts", "events", "leases", "replicasets", "daemonsets", "jobs" })
        {
            resources.Stdout.Should().MatchRegex($@"(?m)^{resource}\s");
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_custom_resource_definition_serves_its_kind_with_its_columns_until_deleted(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var crd = Manifests.WidgetDefinition.Replace("widgets.e2e", $"widgets.{ns}", StringComparison.Ordinal).Replace("e2e.example.com", $"{ns}.example.com", StringComparison.Ordinal);
        var widget = Manifests.Widget("w1", 3).Replace("e2e.example.com", $"{ns}.example.com", StringComparison.Ordinal);

        (await kubectl.RunAsync(["apply", "-f", "-"], crd)).ExitCode.Should().Be(0);
        (await kubectl.RunAsync(["wait", "--for=condition=Established", $"crd/widgets.{ns}.example.com", "--timeout=30s"])).ExitCode.Should().Be(0);
        var created = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], widget);
        var patched = await kubectl.RunAsync(["patch", $"widgets.{ns}.example.com", "w1", "-n", ns, "--type=merge", "-p", """{"spec":{"size":4}}"""]);
        var table = await kubectl.RunAsync($"get widgets.{ns}.example.com -n {ns}");
        (await kubectl.RunAsync(["delete", "-f", "-"], crd)).ExitCode.Should().Be(0);
        var gone = await kubectl.RunAsync($"get --raw /apis/{ns}.example.com/v1/namespaces/{ns}/widgets");

        created.ExitCode.Should().Be(0, created.ToString());
        patched.ExitCode.Should().Be(0, patched.ToString());
        table.Stdout.Should().MatchRegex(@"NAME\s+SIZE\s+AGE").And.MatchRegex(@"w1\s+4\s");
        gone.ExitCode.Should().NotBe(0, "the kind is no longer served once its definition is deleted");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Delete_by_label_and_by_file_removes_the_objects(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);
        foreach (var i in Enumerable.Range(0, 3))
        {
            (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap($"batch-{i}", "group: batch"))).ExitCode.Should().Be(0);
        }

        var byLabel = await kubectl.RunAsync($"delete configmaps -l group=batch -n {ns}");
        var byFile = await kubectl.RunAsync(["delete", "--cascade=foreground", "-n", ns, "-f", "-"], Manifests.App);
        var left = await kubectl.RunAsync($"get deployments,services,configmaps -n {ns} -o name --field-selector=metadata.name!=kube-root-ca.crt");

        byLabel.ExitCode.Should().Be(0, byLabel.ToString());
        byLabel.Stdout.Should().Contain("configmap \"batch-0\" deleted").And.Contain("configmap \"batch-2\" deleted");
        byFile.ExitCode.Should().Be(0, byFile.ToString());
        left.ExitCode.Should().Be(0, left.ToString());
        left.Stdout.Trim().Should().BeEmpty();
    }
}
