using System.Text;
using k8s.Models;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Resources;
using Orchestration.Scheduling;
using Orchestration.State;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>A container's env as kubelet builds it, over the in-memory cluster.</summary>
[Trait("Category", "Unit")]
public sealed class ContainerEnvironmentTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly ContainerEnvironment _environment;

    public ContainerEnvironmentTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        _environment = new ContainerEnvironment(_client, () => "192.0.2.10", new ResourceAmounts(2000, 4L << 30));
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _client.CreateAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "settings", NamespaceProperty = "default" },
            Data = new Dictionary<string, string> { ["MODE"] = "fast", ["LEVEL"] = "3", ["1st"] = "bad name" },
        });
        await _client.CreateAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "creds", NamespaceProperty = "default" },
            Data = new Dictionary<string, byte[]> { ["password"] = Encoding.UTF8.GetBytes("s3cret"), ["USER"] = Encoding.UTF8.GetBytes("admin") },
        });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Literal_values_expand_references_to_variables_defined_before_them_only()
    {
        var env = await BuildAsync(Container(
            Env("GREETING", "hello"),
            Env("MESSAGE", "$(GREETING) world, $(LATER), $$(GREETING)"),
            Env("LATER", "late"),
            Env("AGAIN", "$(LATER)")));

        env.Variables["MESSAGE"].Should().Be("hello world, $(LATER), $(GREETING)", "only earlier variables resolve; $$ escapes");
        env.Variables["AGAIN"].Should().Be("late");
    }

    [Fact]
    public async Task EnvFrom_adds_every_key_with_its_prefix_and_env_overrides_it()
    {
        var container = Container(Env("MODE", "slow"), Env("COMBINED", "$(CFG_LEVEL)-$(USER)"));
        container.EnvFrom =
        [
            new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "settings" }, Prefix = "CFG_" },
            new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "settings" } },
            new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "creds" } },
        ];

        var env = await BuildAsync(container);

        env.Variables.Should().Contain(new Dictionary<string, string>
        {
            ["CFG_MODE"] = "fast",
            ["CFG_LEVEL"] = "3",
            ["CFG_1st"] = "bad name",
            ["LEVEL"] = "3",
            ["USER"] = "admin",
            ["password"] = "s3cret",
            ["MODE"] = "slow",
            ["COMBINED"] = "3-admin",
        });
        env.Variables.Should().NotContainKey("1st", "a key that is no variable name is skipped");
        env.Warnings.Should().Equal("Keys [1st] from the EnvFrom configMap default/settings were skipped since they are considered invalid environment variable names.");
    }

    [Fact]
    public async Task Field_references_give_the_pods_metadata_spec_and_addresses()
    {
        var env = await BuildAsync(Container(
            Field("NAME", "metadata.name"),
            Field("NS", "metadata.namespace"),
            Field("UID", "metadata.uid"),
            Field("APP", "metadata.labels['app']"),
            Field("NOPE", "metadata.labels['missing']"),
            Field("NOTE", "metadata.annotations['note']"),
            Field("LABELS", "metadata.labels"),
            Field("NODE", "spec.nodeName"),
            Field("SA", "spec.serviceAccountName"),
            Field("POD_IP", "status.podIP"),
            Field("HOST_IP", "status.hostIP")));

        env.Variables.Should().Equal(new Dictionary<string, string>
        {
            ["NAME"] = "web",
            ["NS"] = "default",
            ["UID"] = "uid-1",
            ["APP"] = "shop",
            ["NOPE"] = "",
            ["NOTE"] = "a \"quoted\" note",
            ["LABELS"] = "app=\"shop\"\ntier=\"front\"",
            ["NODE"] = "n1",
            ["SA"] = "runner",
            ["POD_IP"] = "10.244.7.2",
            ["HOST_IP"] = "192.0.2.10",
        });
    }

    [Fact]
    public async Task Resource_references_divide_by_the_divisor_rounding_up_and_default_to_the_node()
    {
        var container = Container(
            Resource("MEM_MI", "limits.memory", "1Mi"),
            Resource("CPU_M", "limits.cpu", "1m"),
            Resource("CPU", "limits.cpu", null),
            Resource("REQ_CPU_M", "requests.cpu", "1m"),
            Resource("REQ_MEM", "requests.memory", null));
        container.Resources = new V1ResourceRequirements
        {
            Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("100Mi"), ["cpu"] = new("1500m") },
            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("250m") },
        };
        var unlimited = Container(Resource("NODE_MEM", "limits.memory", "1Gi"), Resource("NODE_CPU", "limits.cpu", null), Resource("NO_REQ", "requests.cpu", "1m"));

        var env = await BuildAsync(container);
        var fallback = await BuildAsync(unlimited);

        env.Variables.Should().Equal(new Dictionary<string, string>
        {
            ["MEM_MI"] = "100",
            ["CPU_M"] = "1500",
            ["CPU"] = "2",
            ["REQ_CPU_M"] = "250",
            ["REQ_MEM"] = "104857600",
        }, "an unset request reads as the limit");
        fallback.Variables.Should().Equal(new Dictionary<string, string> { ["NODE_MEM"] = "4", ["NODE_CPU"] = "2", ["NO_REQ"] = "0" }, "an unset limit is the node's allocatable");
    }

    [Fact]
    public async Task ConfigMap_and_Secret_keys_are_read_and_optional_ones_that_are_missing_are_left_out()
    {
        var env = await BuildAsync(Container(
            ConfigMapKey("MODE", "settings", "MODE"),
            SecretKey("PASSWORD", "creds", "password"),
            ConfigMapKey("NO_KEY", "settings", "absent", optional: true),
            ConfigMapKey("NO_MAP", "absent", "x", optional: true),
            SecretKey("NO_SECRET", "absent", "x", optional: true)));

        env.Variables.Should().Equal(new Dictionary<string, string> { ["MODE"] = "fast", ["PASSWORD"] = "s3cret" });
    }

    [Theory]
    [InlineData("configMapKey", "configmap \"absent\" not found")]
    [InlineData("configMapKeyMissing", "couldn't find key absent in ConfigMap default/settings")]
    [InlineData("secretKey", "secret \"absent\" not found")]
    [InlineData("secretKeyMissing", "couldn't find key absent in Secret default/creds")]
    [InlineData("envFromConfigMap", "configmap \"absent\" not found")]
    [InlineData("envFromSecret", "secret \"absent\" not found")]
    public async Task A_missing_source_that_is_not_optional_fails_with_kubelets_message(string source, string message)
    {
        var container = source switch
        {
            "configMapKey" => Container(ConfigMapKey("X", "absent", "x")),
            "configMapKeyMissing" => Container(ConfigMapKey("X", "settings", "absent")),
            "secretKey" => Container(SecretKey("X", "absent", "x")),
            "secretKeyMissing" => Container(SecretKey("X", "creds", "absent")),
            _ => Container(),
        };
        container.EnvFrom = source switch
        {
            "envFromConfigMap" => [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "absent" } }],
            "envFromSecret" => [new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "absent" } }],
            _ => null,
        };

        var act = () => BuildAsync(container);

        (await act.Should().ThrowAsync<ContainerConfigException>()).Which.Message.Should().Be(message);
    }

    [Fact]
    public async Task Optional_envFrom_sources_that_are_missing_add_nothing()
    {
        var container = Container(Env("A", "1"));
        container.EnvFrom =
        [
            new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "absent", Optional = true } },
            new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "absent", Optional = true } },
        ];

        (await BuildAsync(container)).Variables.Should().Equal(new Dictionary<string, string> { ["A"] = "1" });
    }

    [Fact]
    public async Task Services_in_the_namespace_become_variables_as_kubelet_names_them_and_env_overrides_them()
    {
        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web-api", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.0.40", Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }, new V1ServicePort { Name = "dns", Port = 53, Protocol = "UDP" }] },
        });
        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "headless", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "None", Ports = [new V1ServicePort { Port = 80 }] },
        });

        var env = await BuildAsync(Container(Env("WEB_API_SERVICE_PORT", "mine"), Env("URL", "http://$(WEB_API_SERVICE_HOST)")));

        env.Variables.Should().Contain(new Dictionary<string, string>
        {
            ["WEB_API_SERVICE_HOST"] = "10.96.0.40",
            ["WEB_API_SERVICE_PORT"] = "mine",
            ["WEB_API_SERVICE_PORT_HTTP"] = "80",
            ["WEB_API_SERVICE_PORT_DNS"] = "53",
            ["WEB_API_PORT"] = "tcp://10.96.0.40:80",
            ["WEB_API_PORT_80_TCP"] = "tcp://10.96.0.40:80",
            ["WEB_API_PORT_80_TCP_PROTO"] = "tcp",
            ["WEB_API_PORT_80_TCP_PORT"] = "80",
            ["WEB_API_PORT_80_TCP_ADDR"] = "10.96.0.40",
            ["WEB_API_PORT_53_UDP"] = "udp://10.96.0.40:53",
            ["URL"] = "http://10.96.0.40",
        });
        env.Variables.Keys.Should().NotContain(k => k.StartsWith("HEADLESS_", StringComparison.Ordinal), "a headless Service has no address to give");
    }

    [Fact]
    public async Task Without_service_links_only_the_api_servers_service_is_given()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "shop" } });
        await _client.CreateAsync(new V1Service { Metadata = new V1ObjectMeta { Name = "kubernetes", NamespaceProperty = "default" }, Spec = new V1ServiceSpec { ClusterIP = "10.96.0.1", Ports = [new V1ServicePort { Name = "https", Port = 443 }] } });
        await _client.CreateAsync(new V1Service { Metadata = new V1ObjectMeta { Name = "cart", NamespaceProperty = "shop" }, Spec = new V1ServiceSpec { ClusterIP = "10.96.0.41", Ports = [new V1ServicePort { Port = 8080 }] } });
        var container = Container();
        var pod = Pod(container);
        pod.Metadata.NamespaceProperty = "shop";
        pod.Spec.EnableServiceLinks = false;

        var env = await _environment.BuildAsync(pod, container, "10.244.7.2", CancellationToken.None);

        env.Variables.Should().Contain("KUBERNETES_SERVICE_HOST", "10.96.0.1").And.Contain("KUBERNETES_SERVICE_PORT", "443");
        env.Variables.Keys.Should().NotContain("CART_SERVICE_HOST");

        pod.Spec.EnableServiceLinks = null;
        (await _environment.BuildAsync(pod, container, "10.244.7.2", CancellationToken.None)).Variables.Should().Contain("CART_SERVICE_HOST", "10.96.0.41");
    }

    private Task<ResolvedEnvironment> BuildAsync(V1Container container) =>
        _environment.BuildAsync(Pod(container), container, "10.244.7.2", CancellationToken.None);

    private static V1Pod Pod(V1Container container) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "web",
            NamespaceProperty = "default",
            Uid = "uid-1",
            Labels = new Dictionary<string, string> { ["tier"] = "front", ["app"] = "shop" },
            Annotations = new Dictionary<string, string> { ["note"] = "a \"quoted\" note" },
        },
        Spec = new V1PodSpec { NodeName = "n1", ServiceAccountName = "runner", Containers = [container] },
    };

    private static V1Container Container(params V1EnvVar[] env) => new() { Name = "app", Image = "busybox", Env = env };

    private static V1EnvVar Env(string name, string value) => new() { Name = name, Value = value };

    private static V1EnvVar Field(string name, string path) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = path } } };

    private static V1EnvVar Resource(string name, string resource, string? divisor) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { ResourceFieldRef = new V1ResourceFieldSelector { Resource = resource, Divisor = divisor is null ? null : new ResourceQuantity(divisor) } } };

    private static V1EnvVar ConfigMapKey(string name, string configMap, string key, bool? optional = null) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = configMap, Key = key, Optional = optional } } };

    private static V1EnvVar SecretKey(string name, string secret, string key, bool? optional = null) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret, Key = key, Optional = optional } } };
}
