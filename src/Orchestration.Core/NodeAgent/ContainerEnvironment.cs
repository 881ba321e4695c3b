using System.Text;
using System.Text.RegularExpressions;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Scheduling;

namespace Orchestration.NodeAgent;

/// <summary>
/// A container's environment as kubelet builds it: first <c>envFrom</c> (every key of a ConfigMap or
/// Secret, with the source's prefix), then <c>env</c> in order, where a literal value expands
/// <c>$(NAME)</c> references to variables defined before it and <c>valueFrom</c> reads a pod field,
/// a resource of the container, or a ConfigMap or Secret key. A later variable of the same name
/// wins. The Service variables (<see cref="ServiceLinks"/>) are added unless the container sets the same names.
/// </summary>
/// <param name="client">Reads the ConfigMaps and Secrets.</param>
/// <param name="hostIp">The node's IP, for <c>status.hostIP</c> (only asked when a variable needs it).</param>
/// <param name="allocatable">What the node offers: an unset limit reads as this, as in kubelet.</param>
internal sealed partial class ContainerEnvironment(IClusterClient client, Func<string> hostIp, ResourceAmounts allocatable)
{
    /// <summary>Builds the environment of <paramref name="container"/> in <paramref name="pod"/>, whose sandbox has <paramref name="podIp"/>.</summary>
    /// <exception cref="ContainerConfigException">A ConfigMap, Secret or key that is not optional is missing; the message is kubelet's.</exception>
    public async Task<ResolvedEnvironment> BuildAsync(V1Pod pod, V1Container container, string podIp, CancellationToken cancellationToken)
    {
        var sources = new ConfigMapSecretReader(client, pod.Metadata.NamespaceProperty ?? "default");
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var warnings = new List<string>();
        try
        {
            // Service variables come last but give way: env and envFrom override them, and $(NAME) sees them.
            var links = await ServiceLinks.ForAsync(client, pod, cancellationToken).ConfigureAwait(false);
            foreach (var from in container.EnvFrom ?? [])
            {
                await AddEnvFromAsync(from, sources, variables, warnings, cancellationToken).ConfigureAwait(false);
            }

            foreach (var env in container.Env ?? [])
            {
                var value = await ValueOfAsync(env, pod, container, podIp, sources, variables, links, cancellationToken).ConfigureAwait(false);
                if (value is not null)
                {
                    variables[env.Name] = value;
                }
            }

            foreach (var (name, value) in links)
            {
                variables.TryAdd(name, value);
            }
        }
        catch (Exception ex) when (ex is ClusterApiException or HttpRequestException)
        {
            // The API failed otherwise than "not found": kubelet reports that error the same way.
            throw new ContainerConfigException(ex.Message);
        }

        return new ResolvedEnvironment(variables, warnings);
    }

    /// <summary>Whether a name may be an environment variable (Kubernetes's C-identifier-like rule); envFrom skips other keys.</summary>
    public static bool IsEnvVarName(string name) => EnvVarName().IsMatch(name);

    private static async Task AddEnvFromAsync(V1EnvFromSource from, ConfigMapSecretReader sources, Dictionary<string, string> variables, List<string> warnings, CancellationToken cancellationToken)
    {
        string kind, name;
        IEnumerable<KeyValuePair<string, string>> entries;
        if (from.ConfigMapRef is { } configMapRef)
        {
            (kind, name) = ("configMap", configMapRef.Name);
            var configMap = await sources.ConfigMapAsync(name, cancellationToken).ConfigureAwait(false);
            if (configMap is null)
            {
                if (configMapRef.Optional == true)
                {
                    return;
                }

                throw new ContainerConfigException(ConfigMapSecretReader.ConfigMapNotFound(name));
            }

            // Only the text data: binaryData is for volumes.
            entries = configMap.Data ?? new Dictionary<string, string>();
        }
        else if (from.SecretRef is { } secretRef)
        {
            (kind, name) = ("secret", secretRef.Name);
            var secret = await sources.SecretAsync(name, cancellationToken).ConfigureAwait(false);
            if (secret is null)
            {
                if (secretRef.Optional == true)
                {
                    return;
                }

                throw new ContainerConfigException(ConfigMapSecretReader.SecretNotFound(name));
            }

            entries = (secret.Data ?? new Dictionary<string, byte[]>()).Select(e => new KeyValuePair<string, string>(e.Key, Encoding.UTF8.GetString(e.Value ?? [])));
        }
        else
        {
            return;
        }

        var invalid = new List<string>();
        foreach (var (key, value) in entries)
        {
            var variable = (from.Prefix ?? "") + key;
            if (!IsEnvVarName(variable))
            {
                invalid.Add(variable);
                continue;
            }

            variables[variable] = value ?? "";
        }

        if (invalid.Count > 0)
        {
            invalid.Sort(StringComparer.Ordinal);
            warnings.Add($"Keys [{string.Join(", ", invalid)}] from the EnvFrom {kind} {sources.Namespace}/{name} were skipped since they are considered invalid environment variable names.");
        }
    }

    /// <summary>One variable's value, or null when an optional source is missing (the variable is then left out).</summary>
    private async Task<string?> ValueOfAsync(V1EnvVar env, V1Pod pod, V1Container container, string podIp, ConfigMapSecretReader sources, Dictionary<string, string> defined, Dictionary<string, string> links, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(env.Value))
        {
            return VariableExpansion.Expand(env.Value, name => defined.TryGetValue(name, out var value) || links.TryGetValue(name, out value) ? value : null);
        }

        switch (env.ValueFrom)
        {
            case { FieldRef: { } field }:
                return DownwardApi.PodField(pod, field.FieldPath, podIp, hostIp);
            case { ResourceFieldRef: { } resource }:
                return DownwardApi.ContainerResource(resource, container, allocatable);
            case { ConfigMapKeyRef: { } key }:
            {
                var configMap = await sources.ConfigMapAsync(key.Name, cancellationToken).ConfigureAwait(false);
                if (configMap is null)
                {
                    return key.Optional == true ? null : throw new ContainerConfigException(ConfigMapSecretReader.ConfigMapNotFound(key.Name));
                }

                if (configMap.Data?.TryGetValue(key.Key, out var value) == true)
                {
                    return value ?? "";
                }

                return key.Optional == true ? null : throw new ContainerConfigException($"couldn't find key {key.Key} in ConfigMap {sources.Namespace}/{key.Name}");
            }

            case { SecretKeyRef: { } key }:
            {
                var secret = await sources.SecretAsync(key.Name, cancellationToken).ConfigureAwait(false);
                if (secret is null)
                {
                    return key.Optional == true ? null : throw new ContainerConfigException(ConfigMapSecretReader.SecretNotFound(key.Name));
                }

                if (secret.Data?.TryGetValue(key.Key, out var value) == true)
                {
                    return Encoding.UTF8.GetString(value ?? []);
                }

                return key.Optional == true ? null : throw new ContainerConfigException($"couldn't find key {key.Key} in Secret {sources.Namespace}/{key.Name}");
            }

            default:
                // No value and no source: the variable is set, empty.
                return "";
        }
    }

    [GeneratedRegex("^[-._a-zA-Z][-._a-zA-Z0-9]*$", RegexOptions.CultureInvariant)]
    private static partial Regex EnvVarName();
}
