using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>Pod Security admission in enforce mode: the baseline and restricted checks, in kube-apiserver's words.</summary>
[Trait("Category", "Unit")]
public sealed class PodSecurityTests
{
    private const string Compliant = """
        {"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
         "containers":[{"name":"app","image":"busybox","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}}}],
         "volumes":[{"name":"cache","emptyDir":{}}]}
        """;

    [Fact]
    public void A_privileged_container_breaks_every_restricted_check_it_leaves_unset()
    {
        var spec = Spec("""{"containers":[{"name":"main","image":"busybox","securityContext":{"privileged":true}}]}""");

        PodSecurity.Violations(spec, restricted: true).Should().Equal(
            "privileged (container \"main\" must not set securityContext.privileged=true)",
            "allowPrivilegeEscalation != false (container \"main\" must set securityContext.allowPrivilegeEscalation=false)",
            "unrestricted capabilities (container \"main\" must set securityContext.capabilities.drop=[\"ALL\"])",
            "runAsNonRoot != true (pod or container \"main\" must set securityContext.runAsNonRoot=true)",
            "seccompProfile (pod or container \"main\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
        PodSecurity.Violations(spec, restricted: false).Should().Equal("privileged (container \"main\" must not set securityContext.privileged=true)");
    }

    [Fact]
    public void Baseline_refuses_host_namespaces_capabilities_host_paths_and_ports_and_restricted_passes_a_hardened_pod()
    {
        var spec = Spec("""
            {"hostNetwork":true,"hostPID":true,
             "containers":[{"name":"a","image":"busybox","ports":[{"containerPort":80,"hostPort":8080}],"securityContext":{"capabilities":{"add":["NET_ADMIN","CHOWN"]}}}],
             "volumes":[{"name":"root","hostPath":{"path":"/"}}]}
            """);

        PodSecurity.Violations(spec, restricted: false).Should().Equal(
            "host namespaces (hostNetwork=true, hostPID=true)",
            "non-default capabilities (container \"a\" must not include \"NET_ADMIN\" in securityContext.capabilities.add)",
            "hostPath volumes (volume \"root\")",
            "hostPort (container \"a\" uses hostPort 8080)");
        PodSecurity.Violations(Spec(Compliant), restricted: true).Should().BeEmpty();
        PodSecurity.Violations(Spec("""{"containers":[{"name":"a","image":"busybox"}]}"""), restricted: false).Should().BeEmpty("a plain pod meets baseline");
    }

    [Fact]
    public async Task A_namespace_labelled_restricted_refuses_a_privileged_pod_and_takes_a_hardened_one()
    {
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null });
        var client = new LocalClusterClient(new ObjectRegistry(store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "locked", Labels = new Dictionary<string, string> { [PodSecurity.EnforceLabel] = "restricted" } } });
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "open" } });
        var privileged = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "priv", NamespaceProperty = "locked" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "busybox", SecurityContext = new V1SecurityContext { Privileged = true } }] },
        };

        var refused = await ((Func<Task>)(() => client.CreateAsync(privileged))).Should().ThrowAsync<ForbiddenException>();
        refused.Which.Message.Should().StartWith("pods \"priv\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"main\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false");
        (await client.ListAsync<V1Pod>("locked")).Items.Should().BeEmpty("nothing was written");

        privileged.Metadata.NamespaceProperty = "open";
        await client.CreateAsync(privileged);
        var hardened = ObjectConversion.ToObject<V1PodSpec>(Spec(Compliant));
        await client.CreateAsync(new V1Pod { Metadata = new V1ObjectMeta { Name = "ok", NamespaceProperty = "locked" }, Spec = hardened });
    }

    private static JsonObject Spec(string json) => JsonNode.Parse(json)!.AsObject();
}
