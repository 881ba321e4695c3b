using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>Services: type ClusterIP, session affinity None, TCP ports targeting themselves; a known type and valid, named ports. Addresses are the admission plugin <c>ServiceAddressAllocation</c>'s.</summary>
public sealed class ServiceStrategy() : ResourceStrategy("", "Service")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectDefaults.Service(obj["spec"] as JsonObject);
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckService(obj["spec"] as JsonObject, causes);
    }
}
