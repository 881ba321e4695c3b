using System.Text.Json.Nodes;
using Orchestration.Client;

namespace Orchestration.Resources.Admission;

/// <summary>
/// kube-apiserver's NodeRestriction for writes by a node's credential (user <c>system:node:NAME</c>
/// in <c>system:nodes</c>): a node writes only its own Node object and its own Lease, creates only
/// mirror pods bound to itself, and deletes only pods bound to itself; refused in kube-apiserver's
/// words. Which objects a node may read is the Node authorizer's to say.
/// </summary>
public sealed class NodeRestriction : IValidatingAdmissionPlugin
{
    private const string NodesGroup = "system:nodes";
    private const string NodeUserPrefix = "system:node:";
    private const string MirrorAnnotation = "kubernetes.io/config.mirror";

    /// <inheritdoc />
    public string Name => "NodeRestriction";

    /// <inheritdoc />
    public ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.User is not { } user || !user.Groups.Contains(NodesGroup) || !user.Name.StartsWith(NodeUserPrefix, StringComparison.Ordinal))
        {
            return ValueTask.CompletedTask;
        }

        var node = user.Name[NodeUserPrefix.Length..];
        switch (request.Kind)
        {
            case { Group: "", Kind: "Node" } when request.Name != node:
                throw Forbidden(request, "nodes", $"node \"{node}\" is not allowed to modify node \"{request.Name}\"");
            case { Group: "coordination.k8s.io", Kind: "Lease" } when request.Namespace == "kube-node-lease" && request.Name != node:
                throw Forbidden(request, "leases.coordination.k8s.io", "can only access node lease with the same name as the requesting node");
            case { Group: "", Kind: "Pod" }:
                CheckPod(request, node);
                break;
        }

        return ValueTask.CompletedTask;
    }

    private static void CheckPod(AdmissionRequest request, string node)
    {
        switch (request.Operation)
        {
            case AdmissionOperation.Create:
                if (request.Object["metadata"]?["annotations"]?[MirrorAnnotation] is null)
                {
                    throw Forbidden(request, "pods", $"pod does not have \"{MirrorAnnotation}\" annotation, node \"{node}\" can only create mirror pods");
                }

                if (NodeName(request.Object) != node)
                {
                    throw Forbidden(request, "pods", $"node \"{node}\" can only create pods with spec.nodeName set to itself");
                }

                break;
            case AdmissionOperation.Delete when NodeName(request.OldObject) != node:
                throw Forbidden(request, "pods", $"node \"{node}\" can only delete pods with spec.nodeName set to itself");
            case AdmissionOperation.Update:
                // kube lets a node change only a pod's status (and its own mirror pods' conditions): the status subresource does not come here.
                throw Forbidden(request, "pods", $"node \"{node}\" can only update pod status");
        }
    }

    private static string? NodeName(JsonObject? pod) => pod?["spec"]?["nodeName"]?.ToString();

    private static ForbiddenException Forbidden(AdmissionRequest request, string resource, string why) =>
        new($"{resource} \"{request.Name}\" is forbidden: {why}");
}
