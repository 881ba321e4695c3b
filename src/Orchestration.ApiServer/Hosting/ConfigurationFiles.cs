using System.Text.Json.Nodes;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Hosting;

/// <summary>
/// The configuration files the API server reads at start (encryption, audit policy, token file):
/// one that cannot be read or parsed stops the start with a message naming the file and the reason.
/// </summary>
internal static class ConfigurationFiles
{
    /// <summary>Reads <paramref name="path"/> with <paramref name="read"/>; <paramref name="what"/> names the file in the error.</summary>
    public static T Load<T>(string path, string what, Func<string, T> read)
    {
        try
        {
            return read(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or YamlDotNet.Core.YamlException)
        {
            throw new InvalidOperationException($"the {what} {path} cannot be used: {ex.Message}", ex);
        }
    }

    /// <summary>A YAML (or JSON) document that must be an object.</summary>
    public static JsonObject YamlObject(string text) =>
        YamlDocuments.Parse(text) as JsonObject ?? throw new FormatException("it is not a YAML or JSON object");
}
