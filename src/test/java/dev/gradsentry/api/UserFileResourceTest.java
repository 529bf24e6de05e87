package dev.gradsentry.api;

import dev.gradsentry.examples.ExampleFiles;
import dev.gradsentry.training.UserRuns;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.stream.Stream;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code PUT /api/files/{path}}: a user's model and data uploaded into the user directory (the test profile's
 * {@code target/test-data/user}, upload token {@code upload-token}, at most 1 MiB) train as a run that names them;
 * too large a file, a missing or wrong token, and a path leaving the user directory are refused with a problem, and
 * nothing is written.
 */
@QuarkusTest
@Tag("quarkus")
class UserFileResourceTest {

    static final Path UPLOADS = UserRunResourceTest.USER.resolve("uploads");
    private static final String UPLOAD_TOKEN = "upload-token";

    @BeforeEach
    void emptyUploads() throws IOException {
        Runs.stopActive();
        if (Files.exists(UPLOADS)) {
            try (Stream<Path> s = Files.walk(UPLOADS)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static RequestSpecification upload(String token) {
        RequestSpecification r = RestAssured.given().contentType("application/octet-stream");
        return token == null ? r : r.header("Authorization", "Bearer " + token);
    }

    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void uploadedModelAndDataTrainAsARunThatNamesThem() throws Exception {
        Path example = UserRuns.EXAMPLES.resolve(ExampleFiles.TABULAR);
        for (String name : new String[] {"model.json", "train.csv", "test.csv"}) {
            byte[] bytes = Files.readAllBytes(example.resolve(name));
            upload(UPLOAD_TOKEN).body(bytes)
                    .when().put("/api/files/uploads/tabular/" + name)
                    .then().statusCode(201)
                    .body("path", equalTo("uploads/tabular/" + name))
                    .body("bytes", equalTo(bytes.length))
                    .body("sha256", equalTo(sha256(bytes)));
            assertArrayEquals(bytes, Files.readAllBytes(UPLOADS.resolve("tabular").resolve(name)));
        }
        String id = Runs.start("{\"model\":\"uploads/tabular/model.json\",\"data\":{\"train\":"
                + "\"uploads/tabular/train.csv\",\"test\":\"uploads/tabular/test.csv\",\"task\":\"classification\","
                + "\"skipLines\":1},\"steps\":30,\"batchSize\":32}");
        JsonPath run = Runs.awaitEnd(id, Duration.ofSeconds(120));
        assertEquals("finished", run.getString("state"), run.prettify());
        assertTrue(run.getDouble("evaluation.value") > 0.5, run.prettify());
    }

    @Test
    void aBinaryFileIsWrittenByteForByteAndReplacedWhole() throws Exception {
        byte[] first = new byte[70_000];
        new java.util.Random(7).nextBytes(first); // not UTF-8: an upload is not JSON
        upload(UPLOAD_TOKEN).body(first).when().put("/api/files/uploads/model.zip").then().statusCode(201);
        assertArrayEquals(first, Files.readAllBytes(UPLOADS.resolve("model.zip")));
        byte[] second = {1, 2, 3};
        upload(UPLOAD_TOKEN).body(second).when().put("/api/files/uploads/model.zip")
                .then().statusCode(200).body("bytes", equalTo(3));
        assertArrayEquals(second, Files.readAllBytes(UPLOADS.resolve("model.zip")));
        try (Stream<Path> s = Files.list(UPLOADS)) {
            assertEquals(1, s.count(), "no temporary file left beside it");
        }
    }

    @Test
    void aFileOverTheLimitIsA413NamingTheKeyAndNothingIsWritten() {
        upload(UPLOAD_TOKEN).body(new byte[1024 * 1024 + 1])
                .when().put("/api/files/uploads/big.bin")
                .then().statusCode(413)
                .contentType("application/problem+json")
                .body("field", equalTo("body"))
                .body("detail", containsString("gradsentry.upload.max-mib (1 MiB"));
        assertFalse(Files.exists(UPLOADS.resolve("big.bin")));
        upload(UPLOAD_TOKEN).body(new byte[1024 * 1024]).when().put("/api/files/uploads/big.bin")
                .then().statusCode(201);
    }

    @Test
    void withoutTheUploadTokenAnUploadIsA401AndNothingIsWritten() {
        upload(null).body(new byte[] {1}).when().put("/api/files/uploads/x.bin")
                .then().statusCode(401).contentType("application/problem+json")
                .body("field", equalTo("Authorization"));
        upload("wrong").body(new byte[] {1}).when().put("/api/files/uploads/x.bin")
                .then().statusCode(401).body("detail", containsString("upload token"));
        upload(Api.TOKEN).body(new byte[] {1}).when().put("/api/files/uploads/x.bin")
                .then().statusCode(401).body("detail", containsString("not the API token"));
        assertFalse(Files.exists(UPLOADS.resolve("x.bin")));
    }

    @Test
    void aPathLeavingTheUserDirectoryIsA400NamingPath() throws IOException {
        upload(UPLOAD_TOKEN).body(new byte[] {1}).urlEncodingEnabled(false)
                .when().put("/api/files/..%2F..%2Fescaped.txt")
                .then().statusCode(400).contentType("application/problem+json")
                .body("field", equalTo("path"))
                .body("detail", containsString("outside the user directory"));
        assertFalse(Files.exists(UserRunResourceTest.USER.resolve("../../escaped.txt").normalize()));
        Path outside = Files.createDirectories(Path.of("target", "outside-user-dir"));
        Files.createDirectories(UPLOADS);
        Files.createSymbolicLink(UPLOADS.resolve("link"), outside.toAbsolutePath());
        upload(UPLOAD_TOKEN).body(new byte[] {1})
                .when().put("/api/files/uploads/link/escaped.txt")
                .then().statusCode(400).body("field", equalTo("path"))
                .body("detail", containsString("outside the user directory"));
        assertFalse(Files.exists(outside.resolve("escaped.txt")));
        upload(UPLOAD_TOKEN).body(new byte[] {1}).when().put("/api/files/uploads/.hidden")
                .then().statusCode(400).body("field", equalTo("path")).body("detail", containsString("hidden"));
    }
}
