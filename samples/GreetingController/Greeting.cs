using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Orchestration.Samples.GreetingController;

/// <summary>A Greeting asks for a ConfigMap that carries its message.</summary>
[KubernetesEntity(Group = "samples.orchestration.dev", ApiVersion = "v1", Kind = "Greeting", PluralName = "greetings")]
public sealed class Greeting : IKubernetesObject<V1ObjectMeta>
{
    /// <inheritdoc />
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "samples.orchestration.dev/v1";

    /// <inheritdoc />
    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Greeting";

    /// <inheritdoc />
    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <summary>What is asked for.</summary>
    [JsonPropertyName("spec")]
    public GreetingSpec Spec { get; set; } = new();

    /// <summary>What the controller did.</summary>
    [JsonPropertyName("status")]
    public GreetingStatus? Status { get; set; }
}

/// <summary>The message to publish.</summary>
public sealed class GreetingSpec
{
    /// <summary>The message.</summary>
    [JsonPropertyName("message")]
    public string Message { get; set; } = "";
}

/// <summary>The controller's report.</summary>
public sealed class GreetingStatus
{
    /// <summary>The generation last reconciled.</summary>
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    /// <summary>The ConfigMap that carries the message.</summary>
    [JsonPropertyName("configMap")]
    public string? ConfigMap { get; set; }
}
