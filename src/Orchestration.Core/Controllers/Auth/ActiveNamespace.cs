using k8s.Models;
using Orchestration.Client;

namespace Orchestration.Controllers.Auth;

/// <summary>What the controllers that give every namespace an object of its own ask first.</summary>
internal static class ActiveNamespace
{
    /// <summary>Whether namespace <paramref name="name"/> exists and is not going away (nothing new belongs in one that is).</summary>
    public static async Task<bool> IsActiveAsync(IClusterClient client, string name, CancellationToken cancellationToken)
    {
        try
        {
            var ns = await client.GetAsync<V1Namespace>(null, name, cancellationToken).ConfigureAwait(false);
            return ns.Metadata.DeletionTimestamp is null && ns.Status?.Phase != "Terminating";
        }
        catch (NotFoundException)
        {
            return false;
        }
    }
}
