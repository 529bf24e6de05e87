package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Without an upload token uploads are refused, whatever token the request carries: nothing is writable by default. */
@QuarkusTest
@TestProfile(UploadDisabledTest.NoUploadToken.class)
@Tag("quarkus")
class UploadDisabledTest {

    public static final class NoUploadToken implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("gradsentry.upload.token", "");
        }
    }

    @Test
    void withoutAnUploadTokenConfiguredAnUploadIsA403NamingTheKey() {
        for (String token : new String[] {Api.TOKEN, ""}) {
            RestAssured.given().contentType("application/octet-stream").header("Authorization", "Bearer " + token)
                    .body(new byte[] {1})
                    .when().put("/api/files/uploads/disabled.bin")
                    .then().statusCode(403)
                    .contentType("application/problem+json")
                    .body("field", equalTo("Authorization"))
                    .body("detail", containsString("GRADSENTRY_UPLOAD_TOKEN"));
        }
        assertFalse(Files.exists(UserFileResourceTest.UPLOADS.resolve("disabled.bin")));
    }
}
