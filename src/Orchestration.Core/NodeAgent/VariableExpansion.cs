using System.Text;

namespace Orchestration.NodeAgent;

/// <summary>
/// kubelet's <c>$(VAR)</c> expansion of env values, command, args and subPathExpr: <c>$(NAME)</c> is
/// replaced by the variable's value when it is defined and kept as written when it is not;
/// <c>$$</c> is an escaped <c>$</c>; a <c>$</c> before anything else, or an unclosed <c>$(</c>, stays
/// literal.
/// </summary>
internal static class VariableExpansion
{
    /// <summary>Expands <paramref name="input"/>; <paramref name="lookup"/> gives a variable's value, or null when it is not defined.</summary>
    public static string Expand(string input, Func<string, string?> lookup)
    {
        if (!input.Contains('$', StringComparison.Ordinal))
        {
            return input;
        }

        var output = new StringBuilder(input.Length);
        var i = 0;
        while (i < input.Length)
        {
            var c = input[i];
            if (c != '$' || i + 1 == input.Length)
            {
                output.Append(c);
                i++;
                continue;
            }

            var next = input[i + 1];
            if (next == '$')
            {
                output.Append('$');
                i += 2;
            }
            else if (next == '(' && input.IndexOf(')', i + 2) is var close and >= 0)
            {
                var name = input[(i + 2)..close];
                output.Append(lookup(name) ?? $"$({name})");
                i = close + 1;
            }
            else
            {
                // Not a reference ("$x", or "$(" never closed): both characters stay, and scanning
                // goes on after them, as kubelet's expansion does.
                output.Append('$').Append(next);
                i += 2;
            }
        }

        return output.ToString();
    }
}
