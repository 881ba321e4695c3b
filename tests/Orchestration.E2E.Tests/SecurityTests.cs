using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// Who may do what, with the real kubectl against <c>orch up</c>: a person's credential from
/// <c>orch kubeconfig</c>, kube-apiserver's 403s, <c>kubectl auth whoami</c> and <c>can-i</c>,
/// a Role and RoleBinding granting exactly their rules, impersonation and an aggregated ClusterRole.
/// </summary>
[Collection(OrchClusterCollection.Name)]
[Trait("Category", "E2E")]
public sealed class SecurityTests(OrchCluster cluster)
{
    public static TheoryData<string> Versions() => KubectlTests.Versions();

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_new_user_is_refused_in_kubernetes_words_until_a_role_binding_grants_exactly_its_rules(string binary)
    {
        var admin = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(admin);
        var id = Guid.NewGuid().ToString("N")[..6];
        var (user, group) = ($"alice-{id}", $"devs-{id}");
        var alice = await UserKubectlAsync(binary, user, group);

        var refused = await alice.RunAsync(["get", "pods", "-n", ns]);
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Stderr.Trim().Should().Be($"Error from server (Forbidden): pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{ns}\"");

        var whoami = await alice.RunAsync(["auth", "whoami"]);
        whoami.ExitCode.Should().Be(0, whoami.ToString());
        whoami.Stdout.Should().MatchRegex($@"Username\s+{user}").And.MatchRegex($@"Groups\s+\[{group} system:authenticated\]");

        // The administrator asks on the user's behalf (impersonation), then grants a Role.
        (await CanIAsync(admin, "list", "pods", ns, "--as", user, "--as-group", group)).Should().Be("no");
        (await admin.RunAsync(["create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", ns])).ExitCode.Should().Be(0);
        (await admin.RunAsync(["create", "rolebinding", "devs-read-pods", "--role=pod-reader", $"--group={group}", "-n", ns])).ExitCode.Should().Be(0);

        (await Eventually.HoldsAsync(async () => (await CanIAsync(alice, "list", "pods", ns)) == "yes", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the RoleBinding grants the group its Role");
        var table = new (string Verb, string Resource, string Namespace, string Answer)[]
        {
            ("get", "pods", ns, "yes"),
            ("list", "pods", ns, "yes"),
            ("watch", "pods", ns, "no"),
            ("delete", "pods", ns, "no"),
            ("create", "deployments.apps", ns, "no"),
            ("list", "pods", "default", "no"),
            ("create", "selfsubjectaccessreviews.authorization.k8s.io", "default", "yes"),
        };
        foreach (var (verb, resource, where, answer) in table)
        {
            (await CanIAsync(alice, verb, resource, where)).Should().Be(answer, $"can-i {verb} {resource} -n {where}");
            (await CanIAsync(admin, verb, resource, where, "--as", user, "--as-group", group)).Should().Be(answer, $"can-i {verb} {resource} -n {where} --as {user}");
        }

        var listed = await alice.RunAsync(["get", "pods", "-n", ns]);
        listed.ExitCode.Should().Be(0, listed.ToString());
        var deleted = await alice.RunAsync(["delete", "pod", "anything", "-n", ns]);
        deleted.Stderr.Trim().Should().Be($"Error from server (Forbidden): pods \"anything\" is forbidden: User \"{user}\" cannot delete resource \"pods\" in API group \"\" in the namespace \"{ns}\"");

        var impersonating = await alice.RunAsync(["get", "pods", "-n", ns, "--as", "someone-else"]);
        impersonating.Stderr.Trim().Should().Be($"Error from server (Forbidden): users \"someone-else\" is forbidden: User \"{user}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");
    }

    [Fact]
    public async Task Can_i_list_shows_the_users_rules_and_an_aggregated_cluster_role_picks_up_a_new_rule()
    {
        var binary = Kubectl.Versions[^1];
        var admin = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(admin);
        var id = Guid.NewGuid().ToString("N")[..6];
        var user = $"viewer-{id}";
        var viewer = await UserKubectlAsync(binary, user);
        (await admin.RunAsync(["create", "rolebinding", "viewer", "--clusterrole=view", $"--user={user}", "-n", ns])).ExitCode.Should().Be(0);

        (await Eventually.HoldsAsync(async () => (await CanIAsync(viewer, "list", "deployments.apps", ns)) == "yes", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("view, aggregated from system:aggregate-to-view, lets the user read Deployments");
        (await CanIAsync(viewer, "get", "secrets", ns)).Should().Be("no", "view does not read Secrets");
        var rules = await viewer.RunAsync(["auth", "can-i", "--list", "-n", ns]);
        rules.ExitCode.Should().Be(0, rules.ToString());
        rules.Stdout.Should().MatchRegex(@"deployments\.apps\s+\[\]\s+\[\]\s+\[get list watch\]").And.MatchRegex(@"selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]");

        // A ClusterRole labelled to aggregate into view widens view, without anyone editing view
        // (here to reading Secrets, which view leaves out; a resource kubectl knows, so that can-i names it).
        var extra = $$$"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: secret-reader-{{{id}}}
              labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
            rules:
            - {apiGroups: [""], resources: [secrets], verbs: [get]}
            """;
        (await admin.RunAsync(["apply", "-f", "-"], extra)).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await CanIAsync(viewer, "get", "secrets", ns)) == "yes", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the aggregation controller adds the new rule to view");
        (await CanIAsync(viewer, "list", "secrets", ns)).Should().Be("no", "only the verbs of the new rule are added");
        (await admin.RunAsync(["delete", "clusterrole", $"secret-reader-{id}"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await CanIAsync(viewer, "get", "secrets", ns)) == "no", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("and takes it away when that role goes");
    }

    [Fact]
    public async Task Every_namespace_gets_a_default_service_account_whose_pod_bound_token_works_until_the_pod_goes()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var ns = await cluster.NamespaceAsync(admin);
        (await Eventually.HoldsAsync(async () => (await admin.RunAsync(["get", "serviceaccount", "default", "-n", ns])).ExitCode == 0, 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the ServiceAccount controller gives the new namespace its default ServiceAccount");
        var pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: holder}
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{name: main, image: busybox, command: ["sleep", "3600"]}]
            """;
        (await admin.RunAsync(["apply", "-n", ns, "-f", "-"], pod)).ExitCode.Should().Be(0);
        var created = await admin.RunAsync(["create", "token", "default", "-n", ns, "--bound-object-kind", "Pod", "--bound-object-name", "holder"]);
        created.ExitCode.Should().Be(0, created.ToString());
        var token = created.Stdout.Trim();
        var server = (await admin.RunAsync(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"])).Stdout.Trim();
        string[] asToken = ["--kubeconfig=/dev/null", $"--server={server}", "--insecure-skip-tls-verify", $"--token={token}"];

        var whoami = await admin.RunAsync([.. asToken, "auth", "whoami"]);
        whoami.ExitCode.Should().Be(0, whoami.ToString());
        whoami.Stdout.Should().MatchRegex($@"Username\s+system:serviceaccount:{ns}:default").And.MatchRegex(@"authentication.kubernetes.io/pod-name\s+\[holder\]");
        var refused = await admin.RunAsync([.. asToken, "get", "secrets", "-n", ns]);
        refused.Stderr.Trim().Should().Be($"Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:{ns}:default\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{ns}\"");

        (await admin.RunAsync(["delete", "pod", "holder", "-n", ns, "--grace-period=0", "--force"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await admin.RunAsync([.. asToken, "auth", "whoami"])).Stderr.Contains("Unauthorized", StringComparison.Ordinal), 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("a token bound to a pod stops working once the pod is gone");
    }

    [Fact]
    public async Task Deleting_a_system_namespace_is_refused_in_kubernetes_words_and_it_stays_active()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);

        var refused = await admin.RunAsync(["delete", "namespace", "kube-system", "--wait=false"]);

        refused.ExitCode.Should().NotBe(0);
        refused.Stderr.Trim().Should().Be("Error from server (Forbidden): namespaces \"kube-system\" is forbidden: this namespace may not be deleted");
        (await admin.RunAsync(["get", "namespace", "kube-system", "-o", "jsonpath={.status.phase}"])).Stdout.Should().Be("Active", "the refused delete did not even mark it");
    }

    [Fact]
    public async Task The_components_default_roles_give_the_scheduler_and_the_proxy_their_rights_and_no_more()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var table = new (string User, string Verb, string Resource, string Answer)[]
        {
            ("system:kube-scheduler", "create", "bindings", "yes"),
            ("system:kube-scheduler", "watch", "nodes", "yes"),
            ("system:kube-scheduler", "get", "secrets", "no"),
            ("system:kube-scheduler", "delete", "nodes", "no"),
            ("system:kube-proxy", "watch", "endpointslices.discovery.k8s.io", "yes"),
            ("system:kube-proxy", "create", "pods", "no"),
            ("system:kube-controller-manager", "create", "replicasets.apps", "yes"),
        };
        foreach (var (user, verb, resource, answer) in table)
        {
            (await CanIAsync(admin, verb, resource, "default", "--as", user)).Should().Be(answer, $"{user} can-i {verb} {resource}");
        }

        var roles = await admin.RunAsync(["get", "clusterroles", "system:node", "system:node-proxier", "system:kube-scheduler", "system:kube-controller-manager", "-o", "name"]);
        roles.ExitCode.Should().Be(0, roles.ToString());
    }

    [Fact]
    public async Task A_nodes_credential_reads_the_secrets_of_its_own_pods_and_not_another_nodes_and_writes_only_its_own_node()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var ns = await cluster.NamespaceAsync(admin);
        var id = Guid.NewGuid().ToString("N")[..6];
        var (mine, theirs) = ($"node-a-{id}", $"node-b-{id}");
        var objects = string.Join("---\n", new[] { mine, theirs }.Select(node => $$$"""
            apiVersion: v1
            kind: Node
            metadata: {name: {{{node}}}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: secret-of-{{{node}}}}
            stringData: {password: hunter2}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: pod-on-{{{node}}}}
            spec:
              nodeName: {{{node}}}
              automountServiceAccountToken: false
              containers:
              - name: main
                image: busybox
                env:
                - name: PASSWORD
                  valueFrom:
                    secretKeyRef: {name: secret-of-{{{node}}}, key: password}

            """));
        var applied = await admin.RunAsync(["apply", "-n", ns, "-f", "-"], objects);
        applied.ExitCode.Should().Be(0, applied.ToString());
        var file = Path.Combine(cluster.Orch.DataDir, $"kubeconfig-{mine}");
        var issued = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(60), ["kubeconfig", "--data-dir", cluster.Orch.DataDir, "--node", mine, "--output", file]);
        issued.ExitCode.Should().Be(0, issued.ToString());
        var node = new Kubectl(Kubectl.Versions[^1], file);

        var whoami = await node.RunAsync(["auth", "whoami"]);
        whoami.Stdout.Should().MatchRegex($@"Username\s+system:node:{mine}").And.MatchRegex(@"Groups\s+\[system:nodes system:authenticated\]");
        var own = await node.RunAsync(["get", "secret", $"secret-of-{mine}", "-n", ns, "-o", "jsonpath={.data.password}"]);
        own.ExitCode.Should().Be(0, own.ToString());
        var other = await node.RunAsync(["get", "secret", $"secret-of-{theirs}", "-n", ns]);
        other.Stderr.Trim().Should().Be($"Error from server (Forbidden): secrets \"secret-of-{theirs}\" is forbidden: User \"system:node:{mine}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"{ns}\": no relationship found between node '{mine}' and this object");

        (await node.RunAsync(["label", "node", mine, "zone=a"])).ExitCode.Should().Be(0);
        var relabel = await node.RunAsync(["label", "node", theirs, "zone=a"]);
        relabel.Stderr.Should().Contain($"nodes \"{theirs}\" is forbidden: node \"{mine}\" is not allowed to modify node \"{theirs}\"");
        var evict = await node.RunAsync(["delete", "pod", $"pod-on-{theirs}", "-n", ns, "--wait=false"]);
        evict.Stderr.Should().Contain($"node \"{mine}\" can only delete pods with spec.nodeName set to itself");
        (await admin.RunAsync(["get", "pod", $"pod-on-{theirs}", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}"])).Stdout.Should().BeEmpty("the refused delete did not even mark the pod");
        (await admin.RunAsync(["delete", "node", mine, theirs])).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task A_namespace_enforcing_restricted_refuses_a_privileged_pod_in_kubernetes_words()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var ns = await cluster.NamespaceAsync(admin);
        (await admin.RunAsync(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"])).ExitCode.Should().Be(0);
        var privileged = """
            apiVersion: v1
            kind: Pod
            metadata: {name: priv}
            spec:
              containers: [{name: main, image: busybox, command: [sleep, "3600"], securityContext: {privileged: true}}]
            """;

        var refused = await admin.RunAsync(["apply", "-n", ns, "-f", "-"], privileged);
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Stderr.Should().Contain("pods \"priv\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"main\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"main\" must set securityContext.allowPrivilegeEscalation=false)");
        (await admin.RunAsync(["get", "pods", "-n", ns, "-o", "name"])).Stdout.Trim().Should().BeEmpty("nothing was created");

        // Under warn instead of enforce, the pod is created and kubectl prints the warning.
        (await admin.RunAsync(["label", "namespace", ns, "pod-security.kubernetes.io/enforce-", "pod-security.kubernetes.io/warn=restricted"])).ExitCode.Should().Be(0);
        var warned = await admin.RunAsync(["apply", "-n", ns, "-f", "-"], privileged);
        warned.ExitCode.Should().Be(0, warned.ToString());
        warned.Stderr.Should().Contain("Warning: would violate PodSecurity \"restricted:latest\": privileged (container \"main\" must not set securityContext.privileged=true)");
    }

    [Fact]
    public async Task A_quota_stops_the_pod_over_its_limit_in_kubernetes_words_and_shows_what_is_used()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var ns = await cluster.NamespaceAsync(admin);
        var quota = await admin.RunAsync(["create", "quota", "compute", "--hard=pods=2,requests.cpu=1", "-n", ns]);
        quota.ExitCode.Should().Be(0, quota.ToString());
        foreach (var name in new[] { "a", "b", "c" })
        {
            var pod = $$$"""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: {{{name}}}
                spec:
                  containers:
                  - name: main
                    image: busybox
                    command: [sleep, "3600"]
                    resources:
                      requests: {cpu: 200m}
                """;
            var applied = await admin.RunAsync(["apply", "-n", ns, "-f", "-"], pod);
            if (name == "c")
            {
                applied.ExitCode.Should().Be(1, applied.ToString());
                applied.Stderr.Should().Contain("pods \"c\" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=200m, used: pods=2,requests.cpu=400m, limited: pods=2,requests.cpu=1");
            }
            else
            {
                applied.ExitCode.Should().Be(0, applied.ToString());
            }
        }

        (await Eventually.HoldsAsync(async () => (await admin.RunAsync(["get", "quota", "compute", "-n", ns, "-o", "jsonpath={.status.used.pods}/{.status.used.requests\\.cpu}"])).Stdout.Trim() == "2/400m", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the quota controller shows what the namespace uses");
        var described = await admin.RunAsync(["describe", "quota", "compute", "-n", ns]);
        described.Stdout.Should().MatchRegex(@"pods\s+2\s+2").And.MatchRegex(@"requests.cpu\s+400m\s+1");
    }

    [Fact]
    public async Task A_webhook_that_cannot_be_called_refuses_the_write_under_fail_and_not_under_ignore()
    {
        var admin = cluster.Kubectl(Kubectl.Versions[^1]);
        var ns = await cluster.NamespaceAsync(admin);
        (await admin.RunAsync(["label", "namespace", ns, $"webhook-test={ns}"])).ExitCode.Should().Be(0);
        string Configuration(string policy) => $$$"""
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata:
              name: {{{ns}}}-{{{policy.ToLowerInvariant()}}}
            webhooks:
            - name: guard.{{{ns}}}.example.com
              clientConfig:
                url: https://127.0.0.1:1/validate
              rules:
              - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}
              namespaceSelector:
                matchLabels: {webhook-test: {{{ns}}}}
              failurePolicy: {{{policy}}}
              timeoutSeconds: 2
              sideEffects: None
              admissionReviewVersions: [v1]
            """;

        (await admin.RunAsync(["apply", "-f", "-"], Configuration("Ignore"))).ExitCode.Should().Be(0);
        (await admin.RunAsync(["create", "configmap", "passes", "-n", ns])).ExitCode.Should().Be(0, "failurePolicy Ignore lets the write through");
        (await admin.RunAsync(["apply", "-f", "-"], Configuration("Fail"))).ExitCode.Should().Be(0);
        var refused = await admin.RunAsync(["create", "configmap", "refused", "-n", ns]);
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Stderr.Should().Contain($"Internal error occurred: failed calling webhook \"guard.{ns}.example.com\": failed to call webhook:");
        (await admin.RunAsync(["get", "configmap", "refused", "-n", ns])).ExitCode.Should().Be(1, "nothing was written");
        (await admin.RunAsync(["delete", "validatingwebhookconfiguration", $"{ns}-fail", $"{ns}-ignore"])).ExitCode.Should().Be(0);
    }

    // A kubeconfig of the user's own, issued by orch kubeconfig for the running cluster.
    private async Task<Kubectl> UserKubectlAsync(string binary, string user, params string[] groups)
    {
        var file = Path.Combine(cluster.Orch.DataDir, $"kubeconfig-{user}");
        var issued = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(60), ["kubeconfig", "--data-dir", cluster.Orch.DataDir, "--user", user, .. groups.SelectMany(g => new[] { "--group", g }), "--output", file]);
        issued.ExitCode.Should().Be(0, issued.ToString());
        return new Kubectl(binary, file);
    }

    // kubectl auth can-i's answer: "yes" (exit 0) or "no" (exit 1); anything else fails the test.
    private static async Task<string> CanIAsync(Kubectl kubectl, string verb, string resource, string ns, params string[] extra)
    {
        var result = await kubectl.RunAsync(["auth", "can-i", verb, resource, "-n", ns, .. extra]);
        var answer = result.Stdout.Trim();
        answer.Should().BeOneOf(["yes", "no"], result.ToString());
        result.ExitCode.Should().Be(answer == "yes" ? 0 : 1, result.ToString());
        return answer;
    }
}
