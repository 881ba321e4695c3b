using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// kube-apiserver's NamespaceLifecycle admission: a namespaced object is created only in a
/// namespace that exists and is not being terminated (404, 403), and the system namespaces
/// <c>default</c>, <c>kube-system</c> and <c>kube-public</c> cannot be deleted (403).
/// </summary>
/// <param name="store">The store, where the namespace is read (a plugin of the registry cannot use the registry itself).</param>
public sealed class NamespaceLifecycle(IStateStore store) : IValidatingAdmissionPlugin
{
    private static readonly HashSet<string> Immortal = new(StringComparer.Ordinal) { "default", "kube-system", "kube-public" };

    /// <inheritdoc />
    public string Name => "NamespaceLifecycle";

    /// <inheritdoc />
    public async ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Operation == AdmissionOperation.Delete && request.Kind is { Group: "", Kind: "Namespace" } && Immortal.Contains(request.Name))
        {
            throw new ForbiddenException($"namespaces \"{request.Name}\" is forbidden: this namespace may not be deleted");
        }

        if (request.Operation != AdmissionOperation.Create || request.Namespace is not { } ns)
        {
            return;
        }

        var kv = await store.GetAsync($"/registry/core/namespaces/{ns}", 0, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException("", "namespaces", ns);
        if (JsonNode.Parse(kv.Value.Span)?["metadata"]?["deletionTimestamp"] is not null)
        {
            throw new ForbiddenException($"unable to create new content in namespace {ns} because it is being terminated");
        }
    }
}
