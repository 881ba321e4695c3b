using System.Collections.Concurrent;
using System.Reflection;
using System.Xml.Linq;

namespace Orchestration.ApiServer.OpenApi;

/// <summary>
/// The field descriptions of the model types, read from the XML documentation the Kubernetes
/// model package ships (copied next to its assembly), so <c>kubectl explain</c> shows them.
/// </summary>
public sealed class ModelDescriptions
{
    private readonly Lazy<IReadOnlyDictionary<string, string>> _members;
    private readonly ConcurrentDictionary<MemberInfo, string> _cache = new();

    /// <summary>Reads the documentation of the assembly that holds <paramref name="modelType"/>.</summary>
    public ModelDescriptions(Type modelType)
    {
        ArgumentNullException.ThrowIfNull(modelType);
        _members = new Lazy<IReadOnlyDictionary<string, string>>(() => Load(modelType.Assembly));
    }

    /// <summary>The description of a type or property, or empty.</summary>
    public string For(MemberInfo member)
    {
        ArgumentNullException.ThrowIfNull(member);
        return _cache.GetOrAdd(member, m =>
        {
            var id = m switch
            {
                Type t => $"T:{t.FullName}",
                PropertyInfo p => $"P:{p.DeclaringType!.FullName}.{p.Name}",
                _ => "",
            };
            return _members.Value.TryGetValue(id, out var text) ? text : "";
        });
    }

    private static Dictionary<string, string> Load(Assembly assembly)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = Path.ChangeExtension(assembly.Location, ".xml");
        if (string.IsNullOrEmpty(assembly.Location) || !File.Exists(path))
        {
            return result;
        }

        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            if (member.Attribute("name")?.Value is { } name && member.Element("summary") is { } summary)
            {
                result[name] = string.Join(" ", summary.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return result;
    }
}
