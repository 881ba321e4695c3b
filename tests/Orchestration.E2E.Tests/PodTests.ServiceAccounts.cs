using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>A pod's ServiceAccount token, used by the official client's in-cluster configuration inside the pod.</summary>
public abstract partial class PodTests<TCluster>
{
    // The machine's static kubectl 1.33 is bound into a busybox pod: with no kubeconfig, client-go
    // reads KUBERNETES_SERVICE_HOST/PORT and the token, CA and namespace the kube-api-access volume holds.
    private const string InClusterManifest = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: pod-reader}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: pod-reader}
        rules:
        - apiGroups: [""]
          resources: [pods]
          verbs: [get, list]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: pod-reader}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
        subjects:
        - kind: ServiceAccount
          name: pod-reader
          namespace: default
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: in-cluster}
        spec:
          serviceAccountName: pod-reader
          containers:
          - name: main
            image: busybox
            command: ["sleep", "3600"]
            volumeMounts: [{name: kubectl, mountPath: /bin/kubectl}]
          volumes:
          - name: kubectl
            hostPath: {path: /usr/lib/google-cloud-sdk/bin/kubectl.1.33, type: File}
        """;

    [Fact]
    public async Task A_pods_service_account_token_reaches_the_api_from_inside_with_its_bindings_rights_only_and_ends_with_the_pod()
    {
        var applied = await Kubectl.RunAsync(["apply", "-f", "-"], InClusterManifest);
        applied.ExitCode.Should().Be(0, applied.ToString());
        await cluster.WaitForPodAsync("in-cluster", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");

        var files = await Kubectl.RunAsync(["exec", "in-cluster", "--", "sh", "-c", "cd /var/run/secrets/kubernetes.io/serviceaccount && cat namespace && echo && head -1 ca.crt"]);
        files.Stdout.Should().Be("default\n-----BEGIN CERTIFICATE-----\n", files.ToString());

        var listed = await Kubectl.RunAsync(["exec", "in-cluster", "--", "kubectl", "get", "pods", "-o", "name"]);
        listed.ExitCode.Should().Be(0, listed.ToString());
        listed.Stdout.Should().Contain("pod/in-cluster\n", "the pod's client reaches the API through the kubernetes Service and its Role lets it list pods");

        var secrets = await Kubectl.RunAsync(["exec", "in-cluster", "--", "kubectl", "get", "secrets"]);
        secrets.ExitCode.Should().NotBe(0);
        secrets.Stderr.Should().Contain("secrets is forbidden: User \"system:serviceaccount:default:pod-reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\"");

        var whoami = await Kubectl.RunAsync(["exec", "in-cluster", "--", "kubectl", "auth", "whoami", "-o", "jsonpath={.status.userInfo.extra.authentication\\.kubernetes\\.io/pod-name}"]);
        whoami.Stdout.Should().Be("[\"in-cluster\"]", whoami.ToString());

        // The same token from outside the pod works while the pod lives, and not once it is gone.
        var token = (await Kubectl.RunAsync(["exec", "in-cluster", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"])).Stdout;
        var tokenConfig = Path.Combine(cluster.Orch.DataDir, "in-cluster-token.kubeconfig");
        await File.WriteAllTextAsync(tokenConfig, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster:
                server: https://127.0.0.1:{{cluster.Orch.Port}}
                certificate-authority: {{Path.Combine(cluster.Orch.DataDir, "pki", "ca.crt")}}
            users:
            - name: u
              user:
                token: {{token}}
            contexts:
            - name: c
              context: {cluster: c, user: u, namespace: default}
            current-context: c
            """);
        var asPod = new Kubectl(Kubectl.Binary, tokenConfig);
        var before = await asPod.RunAsync(["get", "pod", "in-cluster", "-o", "name"]);
        before.ExitCode.Should().Be(0, before.ToString());

        var deleted = await Kubectl.RunAsync(["delete", "pod", "in-cluster", "--grace-period=1", "--wait=true"]);
        deleted.ExitCode.Should().Be(0, deleted.ToString());
        var after = await asPod.RunAsync(["get", "pods"]);
        after.ExitCode.Should().NotBe(0);
        after.Stderr.Should().Contain("Unauthorized", "a bound token ends with its pod");
    }
}
