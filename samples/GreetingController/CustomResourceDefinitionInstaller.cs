using k8s;
using k8s.Models;
using Orchestration.Client;

namespace Orchestration.Samples.GreetingController;

/// <summary>Creates the sample's CRD when the cluster does not have it yet, and waits until it is served.</summary>
public static class CustomResourceDefinitionInstaller
{
    /// <summary>Applies the CRD in <paramref name="path"/> if missing and waits for Established.</summary>
    public static async Task EnsureAsync(IClusterClient client, string path, CancellationToken cancellationToken = default)
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(await File.ReadAllTextAsync(path, cancellationToken));
        try
        {
            await client.CreateAsync(crd, cancellationToken);
        }
        catch (AlreadyExistsException)
        {
        }

        for (var i = 0; i < 100; i++)
        {
            var current = await client.GetAsync<V1CustomResourceDefinition>(null, crd.Metadata.Name, cancellationToken);
            if (current.Status?.Conditions?.Any(c => c.Type == "Established" && c.Status == "True") == true)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"the CRD {crd.Metadata.Name} was not established");
    }
}
