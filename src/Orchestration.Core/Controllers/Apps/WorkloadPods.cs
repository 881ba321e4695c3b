using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// What the workload controllers (ReplicaSet, Deployment, DaemonSet, Job, StatefulSet) share about
/// the pods and objects they own: owner references, pods made from templates, pod states, and the
/// template hash that names revisions.
/// </summary>
public static class WorkloadPods
{
    /// <summary>The label with the revision (template hash) a DaemonSet or StatefulSet pod was made from.</summary>
    public const string RevisionHashLabel = "controller-revision-hash";

    // The alphabet Kubernetes uses for generated suffixes: no vowels (no words), no look-alikes.
    private const string SafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    /// <summary>The object a key names, or null when it is gone or being deleted (nothing left to reconcile).</summary>
    public static async Task<T?> GetLiveAsync<T>(IClusterReader client, ObjectKey key, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            var obj = await client.GetAsync<T>(key.Namespace, key.Name, cancellationToken).ConfigureAwait(false);
            return obj.Metadata.DeletionTimestamp is null ? obj : null;
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>The revision a pod was made from (its <see cref="RevisionHashLabel"/>), or null.</summary>
    public static string? RevisionOf(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return pod.Metadata.Labels?.TryGetValue(RevisionHashLabel, out var revision) == true ? revision : null;
    }

    /// <summary>
    /// Writes a workload's status; a conflict is left alone, because the change that caused it
    /// queues another reconcile, which writes the status again from fresh state.
    /// </summary>
    public static async Task WriteStatusAsync<T>(IClusterStatusWriter client, T obj, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            await client.UpdateStatusAsync(obj, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
        }
    }

    /// <summary>Whether a pod still counts: not being deleted and not finished.</summary>
    public static bool IsActive(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return pod.Metadata.DeletionTimestamp is null && pod.Status?.Phase is not ("Succeeded" or "Failed");
    }

    /// <summary>Whether a pod's Ready condition is True.</summary>
    public static bool IsReady(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
    }

    /// <summary>
    /// Whether a pod is available: ready for at least <paramref name="minReadySeconds"/>. When it is
    /// ready but not yet long enough, <paramref name="availableIn"/> says how long is left.
    /// </summary>
    public static bool IsAvailable(V1Pod pod, int minReadySeconds, DateTimeOffset now, out TimeSpan? availableIn)
    {
        availableIn = null;
        if (!IsReady(pod))
        {
            return false;
        }

        if (minReadySeconds <= 0)
        {
            return true;
        }

        var since = pod.Status!.Conditions!.First(c => c.Type == "Ready").LastTransitionTime;
        if (since is null)
        {
            return true;
        }

        var left = new DateTimeOffset(DateTime.SpecifyKind(since.Value, DateTimeKind.Utc)) + TimeSpan.FromSeconds(minReadySeconds) - now;
        if (left <= TimeSpan.Zero)
        {
            return true;
        }

        availableIn = left;
        return false;
    }

    /// <summary>A controller owner reference to <paramref name="owner"/>, which blocks the owner's foreground deletion.</summary>
    public static V1OwnerReference ControllerReference<T>(T owner)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(owner);
        var entity = typeof(T).GetCustomAttributes(typeof(KubernetesEntityAttribute), false).OfType<KubernetesEntityAttribute>().Single();
        return new V1OwnerReference
        {
            ApiVersion = string.IsNullOrEmpty(entity.Group) ? entity.ApiVersion : $"{entity.Group}/{entity.ApiVersion}",
            Kind = entity.Kind,
            Name = owner.Metadata.Name,
            Uid = owner.Metadata.Uid,
            Controller = true,
            BlockOwnerDeletion = true,
        };
    }

    /// <summary>Whether <paramref name="obj"/>'s controller is the object with uid <paramref name="ownerUid"/>.</summary>
    public static bool IsControlledBy(IKubernetesObject<V1ObjectMeta> obj, string ownerUid)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return (obj.Metadata.OwnerReferences ?? []).Any(o => o.Controller == true && o.Uid == ownerUid);
    }

    /// <summary>
    /// A new pod from a template, owned by <paramref name="owner"/>: a deep copy of the template's
    /// metadata and spec, named by <paramref name="name"/> or, when null, generated from
    /// <paramref name="generateName"/>.
    /// </summary>
    public static V1Pod FromTemplate(V1PodTemplateSpec? template, string? @namespace, V1OwnerReference owner, string? name = null, string? generateName = null)
    {
        ArgumentNullException.ThrowIfNull(owner);
        template ??= new V1PodTemplateSpec();

        // A round trip through JSON: the pods must not share lists and maps with the template.
        var pod = ObjectConversion.DeepCopy(new V1Pod { ApiVersion = "v1", Kind = "Pod", Metadata = template.Metadata ?? new V1ObjectMeta(), Spec = template.Spec });
        pod.Metadata.Name = name;
        pod.Metadata.GenerateName = name is null ? generateName : null;
        pod.Metadata.NamespaceProperty = @namespace;
        pod.Metadata.OwnerReferences = [owner];
        pod.Metadata.ResourceVersion = null;
        pod.Metadata.Uid = null;
        return pod;
    }

    /// <summary>The objects of kind <typeparamref name="T"/> in a namespace that match a selector and are controlled by <paramref name="ownerUid"/>.</summary>
    public static async Task<List<T>> ListOwnedAsync<T>(IClusterReader client, string? @namespace, V1LabelSelector? selector, string ownerUid, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(client);
        var list = await client.ListAsync<T>(@namespace, new ListOptions { LabelSelector = LabelSelectors.ToString(selector) }, cancellationToken).ConfigureAwait(false);
        return list.Items.Where(o => IsControlledBy(o, ownerUid)).ToList();
    }

    /// <summary>
    /// A short, stable hash of a pod template (and a collision count, which changes it when two
    /// templates hash alike), in the label-safe alphabet: the <c>pod-template-hash</c> and
    /// <c>controller-revision-hash</c> values.
    /// </summary>
    public static string TemplateHash(V1PodTemplateSpec? template, int? collisionCount = null)
    {
        var json = Normalized(template).ToJsonString();
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(json + (collisionCount is > 0 and { } c ? c.ToString(CultureInfo.InvariantCulture) : "")))
        {
            hash = (hash ^ b) * 16777619u;
        }

        var digits = hash.ToString(CultureInfo.InvariantCulture);
        var encoded = new StringBuilder(digits.Length);
        foreach (var ch in digits)
        {
            encoded.Append(SafeAlphabet[ch % SafeAlphabet.Length]);
        }

        return encoded.ToString();
    }

    /// <summary>
    /// Whether two pod templates ask for the same pods, as Kubernetes's semantic equality sees them:
    /// an absent field and an empty one (<c>resources: {}</c>, which kubectl writes back on a
    /// rollback) are the same, and so are the labels apart from <paramref name="ignoredLabel"/>.
    /// </summary>
    public static bool SameTemplate(V1PodTemplateSpec? a, V1PodTemplateSpec? b, string? ignoredLabel = null)
    {
        var left = Normalized(a);
        var right = Normalized(b);
        if (ignoredLabel is not null)
        {
            foreach (var node in new[] { left, right })
            {
                if (node["metadata"] is JsonObject meta && meta["labels"] is JsonObject labels)
                {
                    labels.Remove(ignoredLabel);
                    if (labels.Count == 0)
                    {
                        meta.Remove("labels");
                    }
                }
            }
        }

        return JsonNode.DeepEquals(left, right);
    }

    private static JsonObject Normalized(V1PodTemplateSpec? template)
    {
        var node = ObjectConversion.ToNode(template ?? new V1PodTemplateSpec());
        Prune(node);
        return node;
    }

    /// <summary>Drops nulls, empty lists and empty objects, except those whose presence means something (<c>emptyDir: {}</c>).</summary>
    private static bool Prune(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return true;
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (Prune(value) && key != "emptyDir")
                    {
                        obj.Remove(key);
                    }
                }

                return obj.Count == 0;
            case JsonArray array:
                foreach (var item in array)
                {
                    Prune(item);
                }

                return array.Count == 0;
            default:
                return false;
        }
    }

    /// <summary>Resolves an int-or-percent (<c>25%</c> or <c>1</c>) against a total, rounding up or down.</summary>
    public static int ScaledValue(IntOrString? value, int total, bool roundUp, int whenUnset)
    {
        if (value?.Value is not { } text || text.Length == 0)
        {
            return whenUnset;
        }

        if (text.EndsWith('%') && int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var percent))
        {
            var exact = total * percent / 100.0;
            return (int)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact));
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : whenUnset;
    }
}
