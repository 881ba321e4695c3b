using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orchestration.Client;
using Orchestration.Hosting;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.Resources.Strategies;

namespace Orchestration.Core.Tests.Resources;

/// <summary>
/// A kind is one registration (its strategy gives its defaults, checks and selectable fields), and
/// admission is an ordered chain of mutating then validating plugins registered through DI, with
/// namespace lifecycle and service address allocation first.
/// </summary>
[Trait("Category", "Unit")]
public sealed class KindRegistrationTests : IAsyncLifetime
{
    private readonly ServiceProvider _provider;
    private readonly IClusterClient _client;
    private readonly List<string> _seen = [];

    public KindRegistrationTests()
    {
        var services = new ServiceCollection();
        services.AddResourceKind(ResourceKind.For<Widget>(namespaced: true), new WidgetStrategy());
        services.AddResourceStrategy<LabelledConfigMapStrategy>();
        services.AddSingleton(_seen);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMutatingAdmissionPlugin, StampPlugin>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidatingAdmissionPlugin, NoForbiddenNamesPlugin>());
        services.AddOrchestrationState();
        _provider = services.BuildServiceProvider();
        _client = _provider.GetRequiredService<IClusterClient>();
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        _seen.Clear();
    }

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    [Fact]
    public async Task A_typed_kind_registered_once_is_stored_defaulted_validated_and_selectable_by_its_own_fields()
    {
        var created = await _client.CreateAsync(new Widget { Metadata = new V1ObjectMeta { Name = "w1", NamespaceProperty = "default" }, Spec = new WidgetSpec() });
        created.Spec.Size.Should().Be(1, "the kind's strategy defaults the size");

        var refused = () => _client.CreateAsync(new Widget { Metadata = new V1ObjectMeta { Name = "w2", NamespaceProperty = "default" }, Spec = new WidgetSpec { Size = 99 } });
        (await refused.Should().ThrowAsync<InvalidException>()).Which.Causes.Should().ContainSingle(c => c.Field == "spec.size" && c.Message.Contains("must be at most 10", StringComparison.Ordinal));

        var bySize = await _client.ListAsync<Widget>("default", new ListOptions { FieldSelector = "spec.size=1" });
        bySize.Items.Select(w => w.Metadata.Name).Should().Equal("w1");
        var unsupported = () => _client.ListAsync<V1ConfigMap>("default", new ListOptions { FieldSelector = "spec.size=1" });
        (await unsupported.Should().ThrowAsync<BadRequestException>()).Which.Message.Should().Be("field label not supported: spec.size");
    }

    [Fact]
    public async Task A_strategy_registered_for_a_built_in_kind_replaces_the_built_in_one()
    {
        var map = await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "m", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["k"] = "v" } });
        map.Metadata.Labels.Should().Contain("defaulted-by", "LabelledConfigMapStrategy");
    }

    [Fact]
    public async Task Mutating_plugins_run_before_the_kinds_checks_and_validating_plugins_after_in_registration_order()
    {
        _provider.GetRequiredService<AdmissionChain>().Names.Should().Equal("ServiceAddressAllocation", "LimitRanger", "Stamp", "NamespaceLifecycle", "NodeRestriction", "PodSecurity", "ResourceQuota", "NoForbiddenNames");
        var stamped = await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "stamped", NamespaceProperty = "default" } });
        stamped.Metadata.Annotations.Should().Contain("stamp", "Create");
        _seen.Should().Equal("Stamp Create stamped", "NoForbiddenNames Create stamped");
    }

    [Fact]
    public async Task A_validating_plugin_that_refuses_a_service_gives_back_the_address_the_mutating_phase_took()
    {
        var refused = () => _client.CreateAsync(Service("forbidden", "10.96.0.50"));
        (await refused.Should().ThrowAsync<ForbiddenException>()).Which.Message.Should().Contain("forbidden names");

        // The address the refused Service was given is free again.
        var served = await _client.CreateAsync(Service("web", "10.96.0.50"));
        served.Spec.ClusterIP.Should().Be("10.96.0.50");
    }

    [Fact]
    public async Task Namespace_lifecycle_refuses_content_in_a_missing_namespace_and_deleting_a_system_namespace()
    {
        var missing = () => _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "m", NamespaceProperty = "nowhere" } });
        (await missing.Should().ThrowAsync<NotFoundException>()).Which.Message.Should().Contain("namespaces \"nowhere\" not found");

        var deleteDefault = () => _client.DeleteAsync<V1Namespace>(null, "default");
        (await deleteDefault.Should().ThrowAsync<ForbiddenException>()).Which.Message.Should().Be("namespaces \"default\" is forbidden: this namespace may not be deleted");
        (await _client.GetAsync<V1Namespace>(null, "default")).Metadata.DeletionTimestamp.Should().BeNull("the refused delete did not mark it");
    }

    private static V1Service Service(string name, string ip) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1ServiceSpec { ClusterIP = ip, Ports = [new V1ServicePort { Port = 80 }] },
    };

    [KubernetesEntity(Group = "tests.orchestration.dev", ApiVersion = "v1", Kind = "Widget", PluralName = "widgets")]
    private sealed class Widget : IKubernetesObject<V1ObjectMeta>
    {
        [JsonPropertyName("apiVersion")]
        public string ApiVersion { get; set; } = "tests.orchestration.dev/v1";

        [JsonPropertyName("kind")]
        public string Kind { get; set; } = "Widget";

        [JsonPropertyName("metadata")]
        public V1ObjectMeta Metadata { get; set; } = new();

        [JsonPropertyName("spec")]
        public WidgetSpec Spec { get; set; } = new();
    }

    private sealed class WidgetSpec
    {
        [JsonPropertyName("size")]
        public int? Size { get; set; }
    }

    private sealed class WidgetStrategy() : ResourceStrategy("tests.orchestration.dev", "Widget", "spec.size")
    {
        public override void Default(JsonObject obj)
        {
            if (obj["spec"] is JsonObject spec)
            {
                spec["size"] ??= 1;
            }
        }

        public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
        {
            if (obj["spec"]?["size"]?.GetValue<int>() is > 10 and var size)
            {
                causes.Add(ObjectValidation.InvalidValue("spec.size", size, "must be at most 10"));
            }
        }
    }

    private sealed class LabelledConfigMapStrategy() : ResourceStrategy("", "ConfigMap")
    {
        public override void Default(JsonObject obj)
        {
            var meta = (JsonObject)obj["metadata"]!;
            var labels = meta["labels"] as JsonObject ?? [];
            meta["labels"] = labels;
            labels["defaulted-by"] = nameof(LabelledConfigMapStrategy);
        }
    }

    private sealed class StampPlugin(List<string> seen) : IMutatingAdmissionPlugin
    {
        public string Name => "Stamp";

        public ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken)
        {
            if (request.Kind.Kind == "ConfigMap")
            {
                seen.Add($"Stamp {request.Operation} {request.Name}");
                var meta = (JsonObject)request.Object["metadata"]!;
                var annotations = meta["annotations"] as JsonObject ?? [];
                meta["annotations"] = annotations;
                annotations["stamp"] = request.Operation.ToString();
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class NoForbiddenNamesPlugin(List<string> seen) : IValidatingAdmissionPlugin
    {
        public string Name => "NoForbiddenNames";

        public ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
        {
            if (request.Kind.Kind == "ConfigMap")
            {
                seen.Add($"NoForbiddenNames {request.Operation} {request.Name}");
            }

            return request.Name == "forbidden"
                ? throw new ForbiddenException($"{request.Kind.Plural} \"{request.Name}\" is forbidden: forbidden names are refused by NoForbiddenNames")
                : ValueTask.CompletedTask;
        }
    }
}
