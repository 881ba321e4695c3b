using System.Text.RegularExpressions;

namespace Orchestration.Resources;

/// <summary>Kubernetes's name rules, with its wording.</summary>
public static partial class NameValidation
{
    /// <summary>The longest DNS-1123 label.</summary>
    public const int MaxLabelLength = 63;

    /// <summary>The longest DNS-1123 subdomain.</summary>
    public const int MaxSubdomainLength = 253;

    /// <summary>The problems with <paramref name="name"/> under <paramref name="rule"/>; empty when it is valid.</summary>
    public static IReadOnlyList<string> Check(string name, NameRule rule) => rule switch
    {
        NameRule.Label => CheckLabel(name),
        NameRule.PathSegment => CheckPathSegment(name),
        _ => CheckSubdomain(name),
    };

    /// <summary>The problems with a name that must be usable as one segment of a URL path, in kube-apiserver's words.</summary>
    public static IReadOnlyList<string> CheckPathSegment(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var errors = new List<string>();
        if (name is "." or "..")
        {
            errors.Add($"may not be '{name}'");
        }

        foreach (var forbidden in new[] { "/", "%" })
        {
            if (name.Contains(forbidden, StringComparison.Ordinal))
            {
                errors.Add($"may not contain '{forbidden}'");
            }
        }

        return errors;
    }

    /// <summary>The problems with a DNS-1123 label.</summary>
    public static IReadOnlyList<string> CheckLabel(string name) => Check(name, MaxLabelLength, LabelPattern(),
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");

    /// <summary>The problems with a DNS-1123 subdomain.</summary>
    public static IReadOnlyList<string> CheckSubdomain(string name) => Check(name, MaxSubdomainLength, SubdomainPattern(),
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");

    private static List<string> Check(string name, int maxLength, Regex pattern, string patternMessage)
    {
        var errors = new List<string>();
        if (name.Length > maxLength)
        {
            errors.Add($"must be no more than {maxLength} characters");
        }

        if (!pattern.IsMatch(name))
        {
            errors.Add(patternMessage);
        }

        return errors;
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex LabelPattern();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex SubdomainPattern();
}
