using k8s.Models;
using Orchestration.Client;

namespace Orchestration.NodeAgent;

/// <summary>
/// Reads the ConfigMaps and Secrets of one pod's namespace through the agent's client, each at most
/// once per use (a container's env may name one ConfigMap many times), as kubelet's managers do.
/// </summary>
internal sealed class ConfigMapSecretReader(IClusterClient client, string @namespace)
{
    private readonly Dictionary<string, V1ConfigMap?> _configMaps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Secret?> _secrets = new(StringComparer.Ordinal);

    /// <summary>The pod's namespace.</summary>
    public string Namespace { get; } = @namespace;

    /// <summary>The ConfigMap, or null when it does not exist.</summary>
    public async Task<V1ConfigMap?> ConfigMapAsync(string name, CancellationToken cancellationToken)
    {
        if (!_configMaps.TryGetValue(name, out var found))
        {
            found = await GetOrNullAsync<V1ConfigMap>(name, cancellationToken).ConfigureAwait(false);
            _configMaps[name] = found;
        }

        return found;
    }

    /// <summary>The Secret, or null when it does not exist.</summary>
    public async Task<V1Secret?> SecretAsync(string name, CancellationToken cancellationToken)
    {
        if (!_secrets.TryGetValue(name, out var found))
        {
            found = await GetOrNullAsync<V1Secret>(name, cancellationToken).ConfigureAwait(false);
            _secrets[name] = found;
        }

        return found;
    }

    /// <summary>kubelet's words for a missing ConfigMap (its managers name the resource in the singular).</summary>
    public static string ConfigMapNotFound(string name) => $"configmap \"{name}\" not found";

    /// <summary>kubelet's words for a missing Secret.</summary>
    public static string SecretNotFound(string name) => $"secret \"{name}\" not found";

    /// <summary>A ConfigMap's entries, text and binary, as bytes.</summary>
    public static IEnumerable<KeyValuePair<string, byte[]>> Entries(V1ConfigMap configMap)
    {
        foreach (var (key, value) in configMap.Data ?? new Dictionary<string, string>())
        {
            yield return new(key, System.Text.Encoding.UTF8.GetBytes(value ?? ""));
        }

        foreach (var (key, value) in configMap.BinaryData ?? new Dictionary<string, byte[]>())
        {
            yield return new(key, value ?? []);
        }
    }

    private async Task<T?> GetOrNullAsync<T>(string name, CancellationToken cancellationToken)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            return await client.GetAsync<T>(Namespace, name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }
}
