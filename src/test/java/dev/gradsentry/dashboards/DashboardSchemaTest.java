package dev.gradsentry.dashboards;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every dashboard validates against the JSON schema generated from Grafana's own types (npm {@code @grafana/schema};
 * {@code dashboards/schema/regenerate.sh}), and follows the house rules: stable uid, a datasource variable, schema
 * version 42, no {@code __inputs}.
 */
class DashboardSchemaTest {

    private static JsonSchema schema() throws IOException {
        JsonNode node = new ObjectMapper().readTree(Dashboards.DIR.resolve("schema/dashboard.schema.json").toFile());
        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(node);
    }

    @Test
    void everyDashboardValidatesAgainstGrafanasSchema() throws IOException {
        JsonSchema schema = schema();
        Map<Path, JsonNode> dashboards = Dashboards.all();
        assertEquals(3, dashboards.size(), dashboards.keySet().toString());
        dashboards.forEach((file, d) -> {
            Set<ValidationMessage> errors = schema.validate(d);
            assertEquals(Set.of(), errors, file.toString());
        });
    }

    @Test
    void theSchemaRejectsWhatGrafanaWouldNot() throws IOException {
        JsonSchema schema = schema();
        ObjectNode d = (ObjectNode) Dashboards.all().values().iterator().next().deepCopy();
        d.put("titel", "a typo");
        assertFalse(schema.validate(d).isEmpty(), "an unknown dashboard field must fail");
        ObjectNode noVersion = (ObjectNode) Dashboards.all().values().iterator().next().deepCopy();
        noVersion.remove("schemaVersion");
        assertFalse(schema.validate(noVersion).isEmpty(), "schemaVersion is required");
    }

    @Test
    void houseRules() {
        Set<String> uids = new HashSet<>();
        Dashboards.all().forEach((file, d) -> {
            String uid = d.path("uid").asText();
            assertTrue(uid.matches("gradsentry-[a-z-]+"), file + ": uid " + uid);
            assertTrue(uids.add(uid), file + ": duplicate uid");
            assertEquals(42, d.path("schemaVersion").asInt(), file.toString());
            assertFalse(d.has("__inputs"), file + " must not have __inputs");
            JsonNode first = d.path("templating").path("list").get(0);
            assertEquals("datasource", first.path("name").asText(), file + ": first variable");
            assertEquals("datasource", first.path("type").asText());
            assertEquals("prometheus", first.path("query").asText());
            for (String v : new String[] {"job", "instance"}) {
                boolean present = false;
                for (JsonNode x : d.path("templating").path("list")) {
                    present |= x.path("name").asText().equals(v);
                }
                assertTrue(present, file + " lacks the " + v + " variable");
            }
            assertFalse(Dashboards.expressions(d).isEmpty());
            Dashboards.expressions(d).forEach((where, expr) ->
                    assertTrue(expr.contains("gradsentry_") || expr.contains("ALERTS"), where + ": " + expr));
            assertEquals("row", d.path("panels").get(0).path("type").asText(), file + ": starts with a row");
        });
    }
}
